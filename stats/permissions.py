"""Who may read statistics: street office / community staff and district admins (cases.permissions)."""

from rest_framework.permissions import BasePermission

from cases.permissions import scope_for


def may_read_stats(user) -> bool:
    return scope_for(user).is_staff_anywhere


def may_publish(user) -> bool:
    return scope_for(user).district_admin


class StatsReader(BasePermission):
    message = "仅街道、社区工作人员和区级管理员可查看统计"

    def has_permission(self, request, view) -> bool:
        return may_read_stats(request.user)


class BulletinPublisher(BasePermission):
    message = "仅区级管理员可发布简报"

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return may_read_stats(request.user)
        return may_publish(request.user)


class SurveyPermission(BasePermission):
    """Reading surveys: statistics readers; entering them: the model permission stats.add_satisfactionsurvey."""

    message = "仅有录入权限的工作人员可录入满意度调查结果"

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return may_read_stats(request.user)
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("stats.add_satisfactionsurvey")
        )
