"""The seeded categories (migration 0003): 六必报, 六必到 and the lane-relevant event classes of digital city
management (市容环境, 宣传广告, 施工管理, 街面秩序, 突发事件; ../shared/DOMAIN.md). Codes are this project's own
(cities renumber their tables: edit them in the admin). Deadlines follow the examples in DOMAIN.md (exposed
garbage 4 working hours, road cleaning 3 working hours, standing water 4 hours, illegal construction 15 working
days); the rest are reasonable defaults, meant to be edited."""

# code, name, kind, parent code, owner, deadline amount, unit, sensitive, must_attend
GROUPS = [
    ("LBB", "六必报", "must_report"),
    ("LBD", "六必到", "must_attend"),
    ("SJ01", "市容环境", "event"),
    ("SJ02", "宣传广告", "event"),
    ("SJ03", "施工管理", "event"),
    ("SJ04", "街面秩序", "event"),
    ("SJ05", "突发事件", "event"),
]
WH, WD, H = "working_hours", "working_days", "hours"
LEAVES = [
    ("LBB01", "乱丢乱放垃圾", "must_report", "LBB", "sanitation", 4, WH, False, False),
    ("LBB02", "公共设施损坏", "must_report", "LBB", "municipal", 2, WD, False, False),
    ("LBB03", "外来人员流入", "must_report", "LBB", "community", 1, WD, True, False),
    ("LBB04", "困难居民病重", "must_report", "LBB", "community", 4, WH, True, False),
    ("LBB05", "社区安全隐患", "must_report", "LBB", "street_office", 1, WD, False, False),
    ("LBB06", "社区不稳定因素", "must_report", "LBB", "street_office", 4, WH, True, False),
    ("LBD01", "居民困难重重", "must_attend", "LBD", "community", 1, WD, True, True),
    ("LBD02", "街巷突发事件", "must_attend", "LBD", "street_office", 2, H, False, True),
    ("LBD03", "居民矛盾纠纷", "must_attend", "LBD", "community", 2, WD, True, True),
    ("LBD04", "邻里守望相助", "must_attend", "LBD", "community", 3, WD, True, True),
    ("LBD05", "居民思想问题", "must_attend", "LBD", "community", 3, WD, True, True),
    ("LBD06", "社区志愿服务", "must_attend", "LBD", "community", 5, WD, False, True),
    ("SJ0101", "暴露垃圾", "event", "SJ01", "sanitation", 4, WH, False, False),
    ("SJ0102", "积存垃圾渣土", "event", "SJ01", "sanitation", 1, WD, False, False),
    ("SJ0103", "道路不洁", "event", "SJ01", "sanitation", 3, WH, False, False),
    ("SJ0104", "私搭乱建", "event", "SJ01", "street_order", 15, WD, False, False),
    ("SJ0201", "非法小广告", "event", "SJ02", "street_order", 1, WD, False, False),
    ("SJ0202", "违规户外广告", "event", "SJ02", "street_order", 5, WD, False, False),
    ("SJ0301", "施工占道", "event", "SJ03", "street_order", 1, WD, False, False),
    ("SJ0302", "工地扬尘", "event", "SJ03", "street_order", 4, WH, False, False),
    ("SJ0401", "无照经营", "event", "SJ04", "street_order", 1, WD, False, False),
    ("SJ0402", "占道经营", "event", "SJ04", "street_order", 4, WH, False, False),
    ("SJ0403", "店外经营", "event", "SJ04", "street_order", 4, WH, False, False),
    ("SJ0501", "路面塌陷", "event", "SJ05", "municipal", 4, H, False, False),
    ("SJ0502", "道路积水", "event", "SJ05", "municipal", 4, H, False, False),
    ("SJ0503", "管道破裂", "event", "SJ05", "municipal", 4, H, False, False),
]


def seed_categories(Category) -> int:
    """Create the seeded categories that are missing (by code); never overwrite edits. Returns how many."""
    created = 0
    groups = {}
    for order, (code, name, kind) in enumerate(GROUPS):
        group, made = Category.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "is_group": True, "order": order * 100}
        )
        groups[code] = group
        created += made
    for order, (code, name, kind, parent, owner, amount, unit, sensitive, attend) in enumerate(LEAVES):
        _, made = Category.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "parent": groups[parent],
                "owner": owner,
                "deadline_amount": amount,
                "deadline_unit": unit,
                "sensitive": sensitive,
                "must_attend": attend,
                "order": 1000 + order,
            },
        )
        created += made
    return created
