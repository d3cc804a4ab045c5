"""Service policies per grade: who serves the customer, how often, how fast, with what.

``serving/config/policies.yaml`` gives, for every grade of every scheme, the account manager
(dedicated team or sales team), visits per month, complaint priority (1 is handled first) and
response deadline in days, programmes, discount tier and recommended actions (seed 004's 建议措施).
Validation against the grade schemes checks that every grade has a policy and that a higher grade
is never served later or slower than a lower one (seed 001: 级别高的投诉优先处理).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from customer_tiering.core.config_io import StrictModel, Version, line_of
from customer_tiering.core.errors import ConfigError
from customer_tiering.scoring.criteria import Label
from customer_tiering.scoring.grading import GradesConfig

__all__ = ["PoliciesConfig", "ServicePolicy", "check_policies_cover_grades"]


class ServicePolicy(StrictModel):
    """The treatment of one grade."""

    account_manager: Literal["dedicated_team", "sales_team", "inside_sales"]
    visits_per_month: float = Field(ge=0)
    complaint_priority: int = Field(ge=1)
    complaint_response_days: float = Field(gt=0)
    discount_tier: str
    programmes: list[str] = Field(default_factory=list)
    recommended_actions: Label


class PoliciesConfig(StrictModel):
    """Policies by scheme and grade."""

    version: Version
    schemes: dict[str, dict[str, ServicePolicy]]

    def policy(self, scheme: str, grade: str) -> ServicePolicy:
        """The policy of ``grade`` in ``scheme``.

        Parameters
        ----------
        scheme, grade : str
            A scheme name and one of its grade ids.

        Returns
        -------
        ServicePolicy

        Raises
        ------
        KeyError
            When the scheme or the grade has no policy.
        """
        return self.schemes[scheme][grade]


def check_policies_cover_grades(policies: PoliciesConfig, grades: GradesConfig,
                                file: str = "policies.yaml") -> None:
    """Every grade of every scheme has a policy, and higher grades are served first and faster.

    Parameters
    ----------
    policies : PoliciesConfig
        The policies.
    grades : GradesConfig
        The grade schemes they must cover.
    file : str
        The policies file, for the error (its line is looked up).

    Raises
    ------
    ConfigError
        Naming the policies file and the field (``schemes.<scheme>.<grade>...``).
    """

    def fail(loc: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(file, ".".join(loc), message, line_of(file, loc))

    for name, scheme in grades.schemes.items():
        if name not in policies.schemes:
            raise fail(("schemes", name), "has no policies; every grade scheme needs a policy "
                       "for each of its grades")
        table = policies.schemes[name]
        for grade in scheme.grade_ids:
            if grade not in table:
                raise fail(("schemes", name, grade), "has no policy")
        for extra in set(table) - set(scheme.grade_ids):
            raise fail(("schemes", name, extra),
                       f"is not a grade of scheme {name} ({', '.join(scheme.grade_ids)})")
        ordered = [table[g] for g in scheme.grade_ids]
        for higher, lower, gid in zip(ordered, ordered[1:], scheme.grade_ids[1:], strict=False):
            if lower.complaint_priority < higher.complaint_priority:
                raise fail(("schemes", name, gid, "complaint_priority"),
                           "a lower grade cannot be served before a higher one")
            if lower.complaint_response_days < higher.complaint_response_days:
                raise fail(("schemes", name, gid, "complaint_response_days"),
                           "a lower grade cannot get a faster deadline than a higher one")
