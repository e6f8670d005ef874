"""Forms every app shares."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile


class SheetUploadForm(forms.Form):
    """The upload of a filled-in template (heating/sheets.py): its type and size are checked here,
    its contents by the import."""

    file = forms.FileField(label="文件", help_text="按模板填写的 xlsx 或 csv 文件")
    dry_run = forms.BooleanField(label="只检查，不写入", required=False)

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if not (upload.name or "").lower().endswith((".xlsx", ".csv")):
            raise forms.ValidationError("请上传 .xlsx 或 .csv 文件（Excel 请另存为 .xlsx）")
        if (upload.size or 0) > settings.MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(
                f"文件超过 {settings.MAX_UPLOAD_MB} MB 的上限，请分县或分批上传"
            )
        return upload


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """A service's refusal on the form that asked: beside the field it names, else above it."""
    for name, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)
