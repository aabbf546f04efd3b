from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import URLValidator

from process.fetching import PASSWORD_IN_URL, unreadable_url
from process.files import over_the_limit
from webapp.models import Submission
from webapp.templatetags.assay import size


def profile_choices() -> list[tuple[str, str]]:
    return [(name, conf.get("title", name)) for name, conf in settings.ASSAY_PROFILES.items()]


class ScriptableCheckbox(forms.CheckboxInput):
    """A browser sends "on" for a ticked box and nothing for an empty one; a script may
    send 1 or 0, yes or no, on or off, true or false. Django's box takes any text but
    "false" as ticked, so "sample=0" checked a sample only, and "sample=maybe" did too:
    the text goes to ScriptableBoolean, which refuses what it does not know."""

    def __init__(self, attrs: dict[str, Any] | None = None):
        # A form shown again after an error ticks the box only for what means ticked.
        super().__init__(attrs, check_test=lambda value: _said(value) in TICKED)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = data.get(name)
        return False if value is None else value


TICKED = frozenset({"1", "true", "yes", "on"})
UNTICKED = frozenset({"", "0", "false", "no", "off"})


def _said(value: Any) -> str:
    return str(value).strip().lower()


URL_MAX_LENGTH = 2000


class _URLValidatorWithinTheLimit(URLValidator):
    """Django's URL check, but not of a URL over the field's limit, whose own message
    says what is wrong. (Django's cap on the length it checks, there against slow regular
    expressions, stays.)"""

    def __call__(self, value: str) -> None:
        if len(value) <= URL_MAX_LENGTH:
            super().__call__(value)


class URLField(forms.URLField):
    """A URL field that calls a URL too long just that, not also "not a valid URL"."""

    default_validators = [_URLValidatorWithinTheLimit()]


class ScriptableBoolean(forms.BooleanField):
    def to_python(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if _said(value) in TICKED | UNTICKED:
            return _said(value) in TICKED
        raise forms.ValidationError(
            "Sample mode is on or off: give true or false (or 1 or 0, yes or no, on or off).",
            code="invalid",
        )


SOURCES = {"file": "a file", "url": "a URL", "text": "pasted text"}


class SubmissionForm(forms.Form):
    """One of: a file, a URL or pasted text; plus profile and sample mode."""

    file = forms.FileField(
        required=False,
        label="Upload a file",
        error_messages={"empty": "The file is empty. Choose a file with data in it."},
    )
    url = URLField(
        required=False,
        label="Or give a URL",
        max_length=URL_MAX_LENGTH,
        assume_scheme="https",
        error_messages={
            "max_length": "This URL has %(show_value)d characters; Assay takes URLs of up to "
            "%(limit_value)d. Download the file and upload it instead."
        },
    )
    text = forms.CharField(
        required=False, strip=False, label="Or paste the data", widget=forms.Textarea
    )
    profile = forms.ChoiceField(
        label="What should the data be checked against?",
        error_messages={"invalid_choice": "There is no profile “%(value)s”."},
    )
    sample = ScriptableBoolean(
        required=False,
        label="Sample mode: check only the first items (faster for large JSON files)",
        widget=ScriptableCheckbox,
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # A browser cuts a longer URL silently at "maxlength"; checked here, it is said.
        self.fields["url"].widget.attrs.pop("maxlength", None)
        # The limits, said before they are met.
        self.fields["file"].help_text = f"Up to {size(settings.ASSAY_MAX_UPLOAD_BYTES)}."
        self.fields[
            "url"
        ].help_text = f"Downloaded from there: up to {size(settings.ASSAY_MAX_DOWNLOAD_BYTES)}."
        self.fields[
            "text"
        ].help_text = f"Up to {size(settings.ASSAY_MAX_TEXT_BYTES)}; upload more as a file."
        field = self.fields["profile"]
        field.choices = profile_choices()
        field.initial = settings.ASSAY_DEFAULT_PROFILE
        if len(field.choices) == 1:
            field.widget = forms.HiddenInput()
        # An empty profile means "the default", so scripts need not send one.
        field.required = False

    def full_clean(self) -> None:
        super().full_clean()
        if self.errors:  # the page comes back with the cursor where the first problem is
            shown = [name for name in self.errors if name in self.fields]
            name = next((name for name in shown if not self[name].is_hidden), "file")
            self.fields[name].widget.attrs["autofocus"] = True
            self._password_left_out()

    def _password_left_out(self) -> None:
        """The page that comes back shows the URL without its password: a password is
        never shown back, as the results page does not show it either."""
        url = self.data.get("url", "")
        if not isinstance(url, str) or PASSWORD_IN_URL.match(url) is None:
            return
        self.data = self.data.copy()
        self.data["url"] = PASSWORD_IN_URL.sub(r"\1@", url)
        # The bound field, made while cleaning, keeps a copy of the old words.
        note = "The password in the URL was left out: type it again."
        self.fields["url"].help_text = self["url"].help_text = note

    @property
    def hidden_errors(self) -> list[str]:
        """Errors of fields the page does not show (the profile, when there is one)."""
        return [error for field in self.hidden_fields() for error in field.errors]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        limit = settings.ASSAY_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {over_the_limit(upload.size, limit, size)}.",
                code="too_large",
            )
        return upload

    def clean_url(self) -> str:
        url = self.cleaned_data.get("url", "")
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(
                "Only http:// and https:// URLs can be checked.", code="invalid_url"
            )
        if url and (problem := unreadable_url(url)):
            raise forms.ValidationError(problem, code="invalid_url")
        return url

    def clean_text(self) -> str:
        text = self.cleaned_data.get("text", "")
        length = len(text.encode())
        limit = settings.ASSAY_MAX_TEXT_BYTES
        if length > limit:
            raise forms.ValidationError(
                f"The pasted text is {over_the_limit(length, limit, size)}. "
                "Upload it as a file instead.",
                code="too_large",
            )
        # Blank, or a byte-order mark alone (copied from an empty file): nothing pasted.
        return text if text.replace("\ufeff", "").strip() else ""

    def refuse_body(self) -> None:
        """Say why an API request too big to read was refused: only pasted text is held
        in memory, so it was the text. (A browser's form meets Django's own check first,
        in the CSRF check, and gets templates/400.html.)"""
        self.full_clean()
        self.errors.clear()
        limit = size(settings.ASSAY_MAX_TEXT_BYTES)
        self.add_error(
            "text",
            forms.ValidationError(
                f"The pasted text is larger than the limit of {limit}. Upload it as a file "
                "instead.",
                code="too_large",
            ),
        )

    def clean_profile(self) -> str:
        return self.cleaned_data.get("profile") or settings.ASSAY_DEFAULT_PROFILE

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        given = [words for name, words in SOURCES.items() if data.get(name)]
        if not given and not self.errors:
            raise forms.ValidationError(
                "Choose a file, give a URL, or paste some data.", code="no_source"
            )
        if len(given) > 1:
            raise forms.ValidationError(
                f"Give only one of a file, a URL or pasted text (you gave {' and '.join(given)}).",
                code="two_sources",
            )
        return data

    @property
    def source(self) -> Submission.Source:
        data = self.cleaned_data
        if data.get("file"):
            return Submission.Source.FILE
        if data.get("url"):
            return Submission.Source.URL
        return Submission.Source.TEXT
