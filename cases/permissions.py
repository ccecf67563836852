"""Who may see and do what, enforced in querysets.

How a user is tied to the organisation:
- lane chief: a people.Person linked to the user, with a ChiefAssignment (role lane_chief) in force today;
  sees the cases on their lanes (and the ones they reported);
- squad member / leader: a Person in people.SquadMembership (is_leader); sees their squads' cases;
- street office staff: a cases.StaffScope row tying the user to a street office (or one community); sees the
  cases in that street office (community);
- district admin: a superuser, a member of the Django group "district_admin", or a StaffScope on a district
  area; sees every case;
- the public: nothing through the list; their own report through its tracking code (public fields only,
  never for sensitive categories — see cases.selectors.public_view).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from cases import workflow as wf

DISTRICT_ADMIN_GROUP = "district_admin"


@dataclass
class Scope:
    """Everything about a user that decides what they may see; computed once per request."""

    user_id: int | None = None
    district_admin: bool = False
    lane_ids: set[int] = field(default_factory=set)
    squad_ids: set[int] = field(default_factory=set)
    leader_squad_ids: set[int] = field(default_factory=set)
    street_office_ids: set[int] = field(default_factory=set)
    community_ids: set[int] = field(default_factory=set)
    # The name of the user's people.Person (None without one): how the user is named on the timeline.
    person_name: str | None = None

    @property
    def is_staff_anywhere(self) -> bool:
        return self.district_admin or bool(self.street_office_ids or self.community_ids)


SCOPE_SQL = """
SELECT EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
               WHERE ug.user_id = %(user)s AND g.name = %(group)s),
       ARRAY(SELECT ARRAY[s.area_id::text, a.level] FROM cases_staffscope s JOIN grid_area a ON a.id = s.area_id
             WHERE s.user_id = %(user)s),
       ARRAY(SELECT DISTINCT c.lane_id FROM people_chiefassignment c JOIN people_person p ON p.id = c.person_id
             WHERE p.user_id = %(user)s AND c.role = %(role)s AND c.lane_id IS NOT NULL
               AND c.valid_from <= %(day)s AND (c.valid_to IS NULL OR c.valid_to >= %(day)s)),
       ARRAY(SELECT ARRAY[m.squad_id, m.is_leader::int] FROM people_squadmembership m
             JOIN people_person p ON p.id = m.person_id WHERE p.user_id = %(user)s),
       (SELECT p.name FROM people_person p WHERE p.user_id = %(user)s)
"""


def scope_for(user, *, day=None) -> Scope:
    """The user's scope, read in one statement (group, staff areas, lane-chief appointments in force on `day` as
    people.ChiefAssignment.objects.on(day), squad memberships, the person's name): every authenticated API request
    needs it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SCOPE_SQL, scope_params(user, day=day))
        return scope_from_row(user, cursor.fetchone())


def scope_params(user, *, day=None) -> dict:
    """The parameters of SCOPE_SQL for an authenticated, active `user` (for a caller that adds columns to it)."""
    from people.models import Role

    return {
        "user": user.pk,
        "group": DISTRICT_ADMIN_GROUP,
        "role": Role.LANE_CHIEF.value,
        "day": day or timezone.localdate(),
    }


def scope_from_row(user, row) -> Scope:
    """The Scope of `user` from the columns of SCOPE_SQL."""
    in_group, staff, lanes, squads, person_name = row
    scope = Scope(user_id=user.pk, person_name=person_name)
    scope.district_admin = user.is_superuser or in_group
    for area_id, level in staff:
        if level == "district":
            scope.district_admin = True
        elif level == "street_office":
            scope.street_office_ids.add(int(area_id))
        elif level == "community":
            scope.community_ids.add(int(area_id))
    scope.lane_ids = set(lanes)
    for squad_id, is_leader in squads:
        scope.squad_ids.add(squad_id)
        if is_leader:
            scope.leader_squad_ids.add(squad_id)
    return scope


def visible_q(scope: Scope) -> Q | None:
    """A filter on Case for what `scope` may read; None means everything (district admin)."""
    if scope.district_admin:
        return None
    if scope.user_id is None:
        return Q(pk__in=[])
    q = Q(reporter_id=scope.user_id)
    if scope.lane_ids:
        q |= Q(lane_id__in=scope.lane_ids)
    if scope.squad_ids:
        # Squads see what they were sent (sensitive matters are never routed or assigned to squads).
        q |= Q(squad_id__in=scope.squad_ids)
    if scope.street_office_ids:
        q |= Q(street_office_id__in=scope.street_office_ids)
    if scope.community_ids:
        q |= Q(community_id__in=scope.community_ids)
    return q


def visible_sql(scope: Scope, alias: str) -> tuple[str, dict] | None:
    """visible_q(scope) as an SQL condition on the cases_case row `alias`, with its named parameters (for the hot
    path's plain SQL); None means everything. The same rules as visible_q (cases/tests/test_submission.py compares
    them)."""
    if scope.district_admin:
        return None
    if scope.user_id is None:
        return "FALSE", {}
    terms, params = [f"{alias}.reporter_id = %(visible_user)s"], {"visible_user": scope.user_id}
    for column, ids in (
        ("lane_id", scope.lane_ids),
        ("squad_id", scope.squad_ids),
        ("street_office_id", scope.street_office_ids),
        ("community_id", scope.community_ids),
    ):
        if ids:
            terms.append(f"{alias}.{column} = ANY(%(visible_{column})s::bigint[])")
            params[f"visible_{column}"] = sorted(ids)
    return "(" + " OR ".join(terms) + ")", params


def roles_for(scope: Scope, case) -> set[str]:
    """The workflow roles `scope` holds towards `case` (see cases.workflow)."""
    roles: set[str] = set()
    if scope.user_id is None:
        return roles
    if scope.district_admin:
        roles.add(wf.DISTRICT_ADMIN)
    if case.reporter_id is not None and case.reporter_id == scope.user_id:
        roles.add(wf.REPORTER)
    if case.lane_id is not None and case.lane_id in scope.lane_ids:
        roles.add(wf.LANE_CHIEF)
    if case.squad_id is not None and case.squad_id in scope.squad_ids:
        roles.add(wf.SQUAD_MEMBER)
        if case.squad_id in scope.leader_squad_ids:
            roles.add(wf.SQUAD_LEADER)
    if case.street_office_id in scope.street_office_ids or (
        case.community_id is not None and case.community_id in scope.community_ids
    ):
        roles.add(wf.STREET_STAFF)
    # The handler: the squad's people when the case sits with a squad, otherwise the staff of its queue.
    if case.owner_queue == "squad":
        if wf.SQUAD_MEMBER in roles:
            roles.add(wf.HANDLER)
    elif wf.STREET_STAFF in roles or wf.DISTRICT_ADMIN in roles:
        roles.add(wf.HANDLER)
    return roles


def can_read(scope: Scope, case) -> bool:
    if scope.district_admin:
        return True
    return bool(roles_for(scope, case) - {wf.HANDLER})
