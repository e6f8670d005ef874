"""What every command that imports a filled-in template shares: the file, --dry-run, and --user,
who must be allowed the import by the access policy."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating import access
from heating.access import Action
from heating.models import User


class SheetImportCommand(BaseCommand):
    action: ClassVar[Action]  # what --user must be allowed
    # The models' checks, which an import relies on; not the URLs', the templates' or the
    # deployment's, the server's concern (`manage.py check`, runserver, CI): loading every view
    # to check the URLs cost each import a seventh of a second.
    requires_system_checks = [Tags.models]

    def run_from_argv(self, argv: list[str]) -> None:
        # What start-up loaded (some 1,100 modules, their classes and functions) lives until the
        # process exits: frozen out of the collector's sight, it costs no pass over it during
        # the import, nor the passes of the interpreter's exit (a quarter of a second). Only from
        # the command line: call_command() in a long-lived process must not freeze its objects.
        gc.freeze()
        super().run_from_argv(argv)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        parser.add_argument("--user", help="以该用户身份导入（县级用户只能导入本县的）")

    def read(self, options: dict[str, Any]) -> tuple[Path, User | None]:
        """The file, checked to exist and fit the upload limit, and the user importing it."""
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}")
        if path.stat().st_size > settings.MAX_UPLOAD_MB * 1024 * 1024:
            raise CommandError(f"文件超过 {settings.MAX_UPLOAD_MB} MB 的上限")
        if not options["user"]:
            return path, None
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"没有用户 {options['user']}")
        if not access.may(user, self.action):
            raise CommandError(access.REFUSALS[self.action])
        return path, user
