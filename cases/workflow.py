"""The case workflow as an explicit state machine: one table of transitions, each with the states it may start
from, the state it leads to, and the roles allowed to take it. cases.services is the only code that moves a
case, and it asks `check()` first; nothing else decides what is allowed.

    reported ──dispatch──▶ dispatched ──accept──▶ accepted ──resolve──▶ resolved ──recheck_pass──▶ rechecked ──close──▶ closed
                             ▲   │ return (re-route)      │                 │ recheck_fail                        │ spot_check_fail
                             └───┘ assign                 ▼                 ▼                                     ▼
                                                       rework ◀─────────────┴─────────────────────────────────── rework
    side paths: request/approve/reject_extension, suspend ⇄ resume, void, merge, supervise/escalate (system), attend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from cases.models import Status

# Roles a user can hold towards one case (computed by cases.permissions.roles_for).
SYSTEM = "system"  # the platform itself (routing, the overdue sweep, sampling)
REPORTER = "reporter"  # the logged-in user who reported the case
LANE_CHIEF = "lane_chief"  # current lane chief of the case's lane
SQUAD_MEMBER = "squad_member"  # member of the squad the case is dispatched to
SQUAD_LEADER = "squad_leader"  # leader of that squad
STREET_STAFF = "street_staff"  # staff whose street office / community holds the case
DISTRICT_ADMIN = "district_admin"  # district admin: everything
HANDLER = "handler"  # whoever works the case now: its squad's members, or the staff of its community/street queue

ROLE_LABELS = {
    SYSTEM: _("系统"),
    REPORTER: _("上报人"),
    LANE_CHIEF: _("街巷长"),
    SQUAD_MEMBER: _("中队队员"),
    SQUAD_LEADER: _("中队队长"),
    STREET_STAFF: _("街道工作人员"),
    DISTRICT_ADMIN: _("区管理员"),
    HANDLER: _("承办人"),
}

SUPERVISORS = frozenset({STREET_STAFF, DISTRICT_ADMIN})
INSPECTORS = frozenset({LANE_CHIEF, STREET_STAFF, DISTRICT_ADMIN})
SAME = None  # the transition keeps the status


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str | None  # SAME keeps the status; resume computes it
    roles: frozenset[str]
    note_required: bool = False
    params: tuple[str, ...] = field(default_factory=tuple)  # extra inputs the action needs


S = Status
WORKING = (S.DISPATCHED, S.ACCEPTED, S.REWORK)

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        Transition("dispatch", _("派遣"), (S.REPORTED,), S.DISPATCHED, frozenset({SYSTEM})),
        Transition("assign", _("指派中队"), (S.DISPATCHED,), S.DISPATCHED, SUPERVISORS, params=("squad",)),
        Transition("accept", _("受理"), (S.DISPATCHED,), S.ACCEPTED, frozenset({HANDLER})),
        Transition(
            "return", _("退回"), (S.DISPATCHED, S.ACCEPTED), S.DISPATCHED, frozenset({SQUAD_MEMBER, SQUAD_LEADER}), True
        ),
        Transition("resolve", _("处置完毕"), (S.ACCEPTED, S.REWORK), S.RESOLVED, frozenset({HANDLER}), True),
        Transition("recheck_pass", _("核查通过"), (S.RESOLVED,), S.RECHECKED, INSPECTORS),
        Transition("recheck_fail", _("核查不通过"), (S.RESOLVED,), S.REWORK, INSPECTORS, True),
        Transition("close", _("结案"), (S.RECHECKED,), S.CLOSED, INSPECTORS),
        Transition("request_extension", _("申请延期"), WORKING, SAME, frozenset({HANDLER}), True, params=("hours",)),
        Transition("approve_extension", _("批准延期"), WORKING, SAME, SUPERVISORS),
        Transition("reject_extension", _("驳回延期"), WORKING, SAME, SUPERVISORS, True),
        Transition("suspend", _("挂账"), WORKING, S.SUSPENDED, SUPERVISORS, True),
        Transition("resume", _("恢复办理"), (S.SUSPENDED,), SAME, SUPERVISORS),
        Transition("void", _("作废"), (S.REPORTED, S.DISPATCHED, S.ACCEPTED, S.SUSPENDED), S.VOID, SUPERVISORS, True),
        Transition(
            "merge",
            _("合并"),
            (S.REPORTED, S.DISPATCHED, S.ACCEPTED),
            S.MERGED,
            frozenset({LANE_CHIEF, STREET_STAFF, DISTRICT_ADMIN}),
            params=("into",),
        ),
        Transition("supervise", _("督办"), WORKING, SAME, frozenset({SYSTEM})),
        Transition("escalate", _("升级督办至区"), WORKING, SAME, frozenset({SYSTEM})),
        Transition("spot_sample", _("抽中回头看"), (S.CLOSED,), SAME, frozenset({SYSTEM})),
        Transition("spot_check_pass", _("回头看通过"), (S.CLOSED,), SAME, INSPECTORS),
        Transition("spot_check_fail", _("回头看不通过"), (S.CLOSED,), S.REWORK, INSPECTORS, True),
        Transition(
            "attend",
            _("到场"),
            (S.DISPATCHED, S.ACCEPTED, S.RESOLVED, S.RECHECKED, S.REWORK, S.SUSPENDED),
            SAME,
            frozenset({LANE_CHIEF, REPORTER}),
        ),
    ]
}

# Actions a client may request through the API (the rest belong to the system).
USER_ACTIONS = tuple(a for a, t in TRANSITIONS.items() if SYSTEM not in t.roles)


class TransitionError(Exception):
    """Why a transition was refused; `code` maps to an HTTP status in the API."""

    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownAction(TransitionError):
    code = "unknown_action"


class RoleNotAllowed(TransitionError):
    code = "forbidden"


class IllegalTransition(TransitionError):
    code = "illegal_transition"


def get(action: str) -> Transition:
    try:
        return TRANSITIONS[action]
    except KeyError:
        raise UnknownAction(str(_("未知操作：%(action)s")) % {"action": action[:40]}) from None


def check(action: str, *, status: str, roles: set[str]) -> Transition:
    """The transition for `action` if `roles` may take it from `status`; otherwise a TransitionError."""
    transition = get(action)
    if not (transition.roles & roles):
        raise RoleNotAllowed(str(_("您无权对此案件执行「%(label)s」")) % {"label": transition.label})
    if status not in transition.sources:
        raise IllegalTransition(
            str(_("案件当前状态为「%(status)s」，不能执行「%(label)s」"))
            % {"status": Status(status).label, "label": transition.label}
        )
    return transition


def allowed_actions(*, status: str, roles: set[str]) -> list[str]:
    """User actions available now (for clients to show the right buttons)."""
    return [a for a in USER_ACTIONS if status in TRANSITIONS[a].sources and TRANSITIONS[a].roles & roles]
