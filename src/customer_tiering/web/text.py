"""The pages' words in Chinese and English."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "客户分级", "grades": "客户等级", "rating": "评级概览", "reviews": "复核队列",
        "audit": "审计日志", "models": "模型", "sign_in": "登录", "sign_out": "退出",
        "api_key": "API 密钥", "filter": "筛选", "all": "全部", "grade": "等级",
        "region": "区域", "type": "客户类型", "segment": "细分", "changed": "等级变化",
        "customer": "客户", "total": "综合得分", "previous": "上期等级", "export": "导出 CSV",
        "policy": "服务政策", "actions": "建议措施", "points": "评分明细", "criterion": "项目",
        "value": "取值", "band": "档位", "explanation": "得分构成", "history": "等级历史",
        "overrides": "调整记录", "scores": "模型评分", "churn": "流失概率",
        "expected": "预计下期价值", "override": "调整等级", "reason": "原因",
        "expires": "到期日（可选）", "submit": "提交", "accept": "接受变化", "reject": "驳回变化",
        "distribution": "等级分布", "pareto": "收入集中度（帕累托）", "migration": "等级迁移",
        "drift": "漂移警告", "no_drift": "无漂移警告",
        "checks": "分级检查", "check_ok": "通过", "check_warning": "警告", "amounts_in": "金额单位",
        "no_checks": "本次评级未保存检查结果", "forbidden": "无权访问",
        "needs": "此页面需要角色", "page": "页", "prev": "上一页", "next": "下一页",
        "when": "时间", "who": "复核人", "action": "操作", "old": "原等级", "new": "新等级",
        "version": "版本", "alias": "别名", "metrics": "指标", "mlflow": "在 MLflow 中查看",
        "scorer_model": "评分器：机器学习模型", "scorer_baseline": "评分器：基线模型",
        "provisional": "待定", "sort": "排序", "yes": "是", "no": "否", "customers": "客户数",
        "revenue_share": "收入占比", "bad_key": "密钥无效或已停用", "from_to": "上期 → 本期",
        "invalid": "请求无效",
        # issue 19: one explanation story, provisional grades, the work queue
        "rating_label": "评级",
        "provisional_title": "有指标缺失，按评分卡的缺失规则计分，等级待定",
        "provisional_note": "等级待定：以下指标缺失，已按评分卡的缺失规则计分：",
        "provisional_unknown": "等级待定：有指标缺失。",
        "only_provisional": "仅看待定等级",
        "band_missing": "缺失",
        "story_total": "总分 {total} 分（从 0 分累加，满分 {max} 分）。",
        "story_up": "距 {grade}（≥ {line} 分）还差 {gap} 分，失分最多的项目（得分/满分）：",
        "story_down": "比降为 {grade} 的分数线（{line} 分）高 {margin} 分，得分最多的项目：",
        "story_top": "已是最高等级。",
        "list_sep": "、",
        "sentence_end": "。",
        "measured_note": (
            "每一项都从 0 分算起：条形和“计入总分”一列是该项加到总分（满分 {max} 分）上的分数，三处数字"
            "相同。"),
        "weights_note": "评分卡各项按 ×{w} 计入总分（评分卡满分 {card} 分 → {weighted} 分）",
        "model_part_note": "{label}最高 {max} 分",
        "baseline_note": (
            "模型部分从“模型基准”（模型训练数据中典型客户的得分）起算，各特征在此基础上加减分。"),
        "points_note": (
            "“计入总分”与上方条形图的数字相同；“卡面分”是评分卡上的原始分（乘以权重后计入）；“总体平均”"
            "是本次评级全部客户在该项的平均计入分，仅供对比。"),
        "card_points": "卡面分",
        "weight": "权重",
        "counted": "计入总分",
        "max_points": "满分",
        "typical": "总体平均",
        "choose_grade": "（选择等级）",
        "queue_count": "待处理 {n} 项",
        "queue_kind_vip_change": "VIP 等级变化",
        "queue_kind_change": "其他等级变化",
        "queue_kind_expiring": "调整即将到期",
        "queue_kind_provisional": "待定等级（未变化）",
        "queue_order": (
            "排序：先 VIP 等级变化，再其他等级变化（变动级数大的在前），然后是 30 天内到期的调整，最后是"
            "未变化的待定等级。只有等级变化可以接受或驳回。"),
        "queue_pick": "选择",
        "queue_why": "为何在队列中",
        "why_change": "等级变化：{old} → {new}（{move}）",
        "why_up": "升 {n} 级",
        "why_down": "降 {n} 级",
        "why_vip": "VIP 变化 · ",
        "why_also_provisional": "；等级待定（有指标缺失）",
        "why_expiring": "调整为 {grade} 将于 {date} 到期",
        "why_provisional": "等级待定：有指标缺失（打开客户页查看缺少哪些）",
        "queue_bulk": "批量处理",
        "queue_bulk_note": "勾选上表中的等级变化，填写一个原因，一次接受或驳回。",
        "queue_accept_selected": "接受所选变化",
        "queue_reject_selected": "驳回所选变化",
        "queue_accepted": "已接受 {n} 项。",
        "queue_rejected": "已驳回 {n} 项。",
        "queue_failed": "{n} 项未处理（等级未变化或已不存在）。",
        "queue_empty": "队列为空：本次评级没有待复核的项目。",
        "audit_empty": "还没有任何复核或调整记录。",
    },
    "en": {
        "title": "Customer tiering", "grades": "Grades", "rating": "Rating overview",
        "reviews": "Review queue", "audit": "Audit log", "models": "Models",
        "sign_in": "Sign in", "sign_out": "Sign out", "api_key": "API key", "filter": "Filter",
        "all": "all", "grade": "Grade", "region": "Region", "type": "Customer type",
        "segment": "Segment", "changed": "Grade changed", "customer": "Customer",
        "total": "Total", "previous": "Previous grade", "export": "Export CSV",
        "policy": "Service policy", "actions": "Recommended actions", "points": "Scorecard points",
        "criterion": "Criterion", "value": "Input", "band": "Band",
        "explanation": "How the total is made", "history": "Grade history",
        "overrides": "Overrides and reviews", "scores": "Model scores",
        "churn": "Churn probability", "expected": "Expected value next period",
        "override": "Override grade", "reason": "Reason", "expires": "Expires (optional)",
        "submit": "Submit", "accept": "Accept change", "reject": "Reject change",
        "distribution": "Grade distribution", "pareto": "Revenue concentration (Pareto)",
        "migration": "Migration between ratings", "drift": "Drift warnings",
        "checks": "Grading checks", "check_ok": "ok", "check_warning": "warning",
        "amounts_in": "Amounts in", "no_checks": "No checks were stored with this rating",
        "no_drift": "No drift warnings", "forbidden": "Not allowed",
        "needs": "This page needs the role", "page": "Page", "prev": "Previous", "next": "Next",
        "when": "When", "who": "Reviewer", "action": "Action", "old": "Old grade",
        "new": "New grade", "version": "Version", "alias": "Alias", "metrics": "Metrics",
        "mlflow": "Open in MLflow",
        "scorer_model": "Scorer: the trained model", "scorer_baseline": "Scorer: a baseline",
        "provisional": "Provisional", "sort": "Sort", "yes": "yes",
        "no": "no", "customers": "Customers", "revenue_share": "Revenue share",
        "bad_key": "Invalid or revoked key", "from_to": "previous → this", "invalid": "Invalid request",
        # issue 19: one explanation story, provisional grades, the work queue
        "rating_label": "Rating",
        "provisional_title": (
            "An input is missing and was scored by the card's missing-input rule: the grade is "
            "provisional"),
        "provisional_note": (
            "Provisional grade: these inputs are missing and were scored by the card's missing-input "
            "rule:"),
        "provisional_unknown": "Provisional grade: an input is missing.",
        "only_provisional": "Provisional only",
        "band_missing": "missing",
        "story_total": "Total {total} points (added up from 0 points, out of {max}).",
        "story_up": "{gap} points short of {grade} (≥ {line}); most points still to gain (points/max): ",
        "story_down": (
            "{margin} points above the line of {line}, below which it falls to {grade}; most points "
            "from: "),
        "story_top": "Already the highest grade.",
        "list_sep": ", ",
        "sentence_end": ". ",
        "measured_note": (
            "Every part is measured from 0 points: the bars and the “Counted in total” column are the "
            "points it adds to the total (out of {max}); the three places show the same numbers. "),
        "weights_note": (
            "Scorecard criteria count ×{w} in the total (the card's {card} points → {weighted})"),
        "model_part_note": "{label} up to {max}",
        "baseline_note": (
            "A model part starts from its baseline (the points a typical customer of the model's "
            "training data gets); its features add or take away points from there."),
        "points_note": (
            "“Counted in total” is the number of the bar above; “Card points” is the criterion's points "
            "on the card (counted times the weight); “Population mean” is the mean counted points of "
            "all customers of this rating, for comparison only."),
        "card_points": "Card points",
        "weight": "Weight",
        "counted": "Counted in total",
        "max_points": "Max",
        "typical": "Population mean",
        "choose_grade": "(choose a grade)",
        "queue_count": "{n} items to work",
        "queue_kind_vip_change": "VIP grade changes",
        "queue_kind_change": "Other grade changes",
        "queue_kind_expiring": "Overrides ending soon",
        "queue_kind_provisional": "Provisional grades (unchanged)",
        "queue_order": (
            "Order: VIP grade changes first, then other grade changes (the largest moves first), then "
            "overrides ending within 30 days, then provisional grades that did not change. Only grade "
            "changes can be accepted or rejected."),
        "queue_pick": "Pick",
        "queue_why": "Why it is here",
        "why_change": "Grade changed: {old} → {new} ({move})",
        "why_up": "up {n}",
        "why_down": "down {n}",
        "why_vip": "VIP change · ",
        "why_also_provisional": "; provisional (an input is missing)",
        "why_expiring": "Override to {grade} ends on {date}",
        "why_provisional": "Provisional: an input is missing (the customer page names it)",
        "queue_bulk": "Work several at once",
        "queue_bulk_note": (
            "Tick grade changes in the table above, give one reason, and accept or reject them together."),
        "queue_accept_selected": "Accept the ticked changes",
        "queue_reject_selected": "Reject the ticked changes",
        "queue_accepted": "{n} accepted.",
        "queue_rejected": "{n} rejected.",
        "queue_failed": "{n} not done (the grade did not change, or the customer is gone).",
        "queue_empty": "The queue is empty: nothing in this rating waits for a review.",
        "audit_empty": "No reviews or overrides have been recorded yet.",
    },
}
