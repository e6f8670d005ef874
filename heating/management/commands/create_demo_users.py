from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from heating.models import County, Role, User
from heating.services import user_create

DEMO_PASSWORD = "xinzhou-demo-2023"

# (username, role, full name, organisation, county short names)
DEMO_USERS: list[tuple[str, Role, str, str, list[str]]] = [
    ("shi", Role.MUNICIPAL, "市能源局演示用户", "忻州市能源局", []),
    ("xinfu", Role.COUNTY, "忻府区演示用户", "忻府区清洁取暖工作领导小组办公室", ["忻府区"]),
    ("yuanping", Role.COUNTY, "原平市演示用户", "原平市清洁取暖工作领导小组办公室", ["原平市"]),
    (
        "xinfu-shenhe",
        Role.APPROVER,
        "忻府区审核人演示用户",
        "忻府区清洁取暖工作领导小组办公室",
        ["忻府区"],
    ),
    ("yanshou", Role.INSPECTOR, "验收演示用户", "忻州某监理单位", ["忻府区", "定襄县"]),
    ("admin", Role.ADMIN, "系统管理员", "忻州市能源局", []),
]


def demo_users() -> list[tuple[str, bool]]:
    """Every demo user, made if missing: (username, made now)."""
    made = []
    for username, role, full_name, organisation, county_names in DEMO_USERS:
        if User.objects.filter(username=username).exists():
            made.append((username, False))
            continue
        counties = list(County.objects.filter(short_name__in=county_names))
        user_create(
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            full_name=full_name,
            organisation=organisation,
            county=counties[0] if role in (Role.COUNTY, Role.APPROVER) else None,
            counties=counties,
        )
        made.append((username, True))
    return made


class Command(BaseCommand):
    help = "创建每种角色的演示用户（仅限 DEBUG 开发环境）；已存在的跳过。"

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("生产环境（DEBUG 关闭）不创建演示用户。")
        roles = {username: role for username, role, *_ in DEMO_USERS}
        for username, made in demo_users():
            if made:
                self.stdout.write(f"已创建：{username}（{roles[username].label}）")
            else:
                self.stdout.write(f"已存在：{username}")
        self.stdout.write(f"演示用户密码均为：{DEMO_PASSWORD}")
