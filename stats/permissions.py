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
