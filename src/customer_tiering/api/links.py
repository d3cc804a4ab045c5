"""OpenAPI links: which answer's values a client passes on to which operation.

A grade list names customers whose grade, explanation, history, overrides and reviews are the
next calls; a rating list names ratings. The links say so in the OpenAPI document (readers and
client generators see how the operations chain), and stateful testers (schemathesis) follow them
to reach real customers and ratings instead of guessing ids. They are declared here by path and
method, as data, and added to the document FastAPI generates, naming targets by the operation
ids it gave them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

__all__ = ["LINKS", "Link", "install_links"]


@dataclass(frozen=True)
class Link:
    """``source`` (``"GET /v1/grades"``) answering ``status`` links to ``target`` with
    ``parameters`` (``{"path.customer_id": "$response.body#/items/0/customer_id"}``)."""

    name: str
    source: str
    status: str
    target: str
    parameters: tuple[tuple[str, str], ...]


_CUSTOMER_OPERATIONS = (
    ("Grade", "GET /v1/customers/{customer_id}"),
    ("Explanation", "GET /v1/customers/{customer_id}/explanation"),
    ("History", "GET /v1/customers/{customer_id}/history"),
    ("Override", "POST /v1/customers/{customer_id}/overrides"),
    ("Review", "POST /v1/customers/{customer_id}/review"),
    ("SpecialRating", "POST /v1/customers/{customer_id}/special-rating"),
)


def _to_customer(source: str, status: str, pointer: str) -> list[Link]:
    return [Link(f"Customer{name}", source, status, target,
                 (("path.customer_id", f"$response.body#{pointer}"),))
            for name, target in _CUSTOMER_OPERATIONS]


LINKS: tuple[Link, ...] = (
    *_to_customer("GET /v1/grades", "200", "/items/0/customer_id"),
    *_to_customer("GET /v1/reviews/queue", "200", "/0/customer_id"),
    *_to_customer("GET /v1/reviews", "200", "/0/customer_id"),
    Link("RatingDetail", "GET /v1/ratings", "200", "GET /v1/ratings/{rating_id}",
         (("path.rating_id", "$response.body#/0/id"),)),
    Link("RatingGrades", "GET /v1/ratings", "200", "GET /v1/grades",
         (("query.rating_id", "$response.body#/0/id"),)),
    Link("RatingQueue", "GET /v1/ratings", "200", "GET /v1/reviews/queue",
         (("query.rating_id", "$response.body#/0/id"),)),
    Link("CustomerRating", "GET /v1/customers/{customer_id}", "200",
         "GET /v1/ratings/{rating_id}", (("path.rating_id", "$response.body#/rating_id"),)),
    Link("OverrideTrail", "POST /v1/customers/{customer_id}/overrides", "201", "GET /v1/reviews",
         (("query.customer_id", "$response.body#/customer_id"),)),
    Link("OverrideGrade", "POST /v1/customers/{customer_id}/overrides", "201",
         "GET /v1/customers/{customer_id}", (("path.customer_id", "$response.body#/customer_id"),)),
)
"""Every link of the API."""


def install_links(app: FastAPI, links: tuple[Link, ...] = LINKS) -> None:
    """Make ``app.openapi()`` return FastAPI's document with ``links`` added to the responses.

    Raises
    ------
    KeyError
        When a link names an operation or response the app does not have (on the first call
        of ``app.openapi()``, which the tests make).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        ids = {f"{method.upper()} {path}": operation["operationId"]
               for path, operations in document["paths"].items()
               for method, operation in operations.items()}
        for link in links:
            method, path = link.source.split(" ", 1)
            response = document["paths"][path][method.lower()]["responses"][link.status]
            response.setdefault("links", {})[link.name] = {
                "operationId": ids[link.target], "parameters": dict(link.parameters)}
        return document

    app.openapi = openapi  # type: ignore[method-assign]
