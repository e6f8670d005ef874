"""Forms every app shares."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile

# What an empty choice says, instead of Django's "---------".
EMPTY_CHOICE = "请选择"


class DateInput(forms.DateInput):
    """The browser's date picker. It takes only an ISO value (2023-10-15): rendered in the
    locale's format, an existing date would show blank."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class PortalForm(forms.Form):
    """What every form of the portal says the same way: an empty choice reads 请选择, and a
    required field left empty asks for it by its name (「请填写身份证号」), once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if field.required:
                field.error_messages["required"] = f"请填写{field.label or '此项'}"
            if isinstance(field, forms.ModelChoiceField):
                if field.empty_label is not None:
                    field.empty_label = EMPTY_CHOICE
            elif isinstance(field, forms.ChoiceField):
                choices: list[tuple[Any, Any]] = list(field.choices)  # type: ignore[arg-type]
                field.choices = [
                    (value, EMPTY_CHOICE if value == "" and label == "---------" else label)
                    for value, label in choices
                ]

    def _update_errors(self, errors: ValidationError) -> None:
        """A model form's hook for the model's own checks: a field that already has an error
        keeps its first (the most particular) rather than adding the model's about the same."""
        if hasattr(errors, "error_dict"):
            errors = ValidationError(
                {
                    name: found
                    for name, found in errors.error_dict.items()
                    if name not in self.errors or name == NON_FIELD_ERRORS
                }
            )
        super()._update_errors(errors)  # type: ignore[misc]


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
