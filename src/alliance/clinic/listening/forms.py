"""The upload form: a transcript file, its format, and names mapped to roles for name-prefixed files."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from alliance.clinic.listening.service import parse_speaker_map
from alliance.transcripts import TranscriptError

FORMAT_CHOICES = [
    ("auto", "Recognise it (by the file name and content)"),
    ("txt", "Plain text with speaker prefixes (T:/C:, Therapist:/Client:, or names)"),
    ("vtt", "WebVTT (.vtt)"),
    ("srt", "SubRip (.srt)"),
    ("json", "JSON list of {speaker, text, start, end}"),
    ("annomi", "AnnoMI-format CSV (one session)"),
]


class UploadForm(forms.Form):
    file = forms.FileField(label="Transcript file", help_text="Text, WebVTT, SRT, JSON or AnnoMI CSV, UTF-8.")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto")
    speakers = forms.CharField(
        required=False,
        label="Speaker names (only for files that use names)",
        help_text="One per line: Dr Lee = therapist, Sam = client. T:/C: and Therapist:/Client: need no mapping.",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = int(settings.ALLIANCE_TRANSCRIPT_MAX_BYTES)
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024:.0f} KB; the limit is {limit / 1024:.0f} KB (one session)."
            )
        return upload

    def clean_speakers(self) -> dict[str, str]:
        try:
            return parse_speaker_map(self.cleaned_data.get("speakers") or "")
        except TranscriptError as exc:
            raise forms.ValidationError(str(exc)) from None

    def text(self) -> str:
        """The uploaded file as text (UTF-8, a byte-order mark dropped); a ValidationError when it is not text."""
        raw = self.cleaned_data["file"].read()
        try:
            return str(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
