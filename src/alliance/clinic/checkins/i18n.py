"""Every string a client reads during a check-in, in English and Spanish (instrument texts come from definitions).

Spanish uses the formal *usted* throughout. Keep the two columns in step: a test checks that every key has both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "STRINGS", "choose_language", "language_names", "strings"]

DEFAULT_LANGUAGE = "en"
# Language code -> its own name (a client looks for their language written in that language).
LANGUAGES: Mapping[str, str] = MappingProxyType({"en": "English", "es": "Español"})

_STRINGS: dict[str, dict[str, str]] = {
    "change_language": {"en": "Show this page in", "es": "Ver esta página en"},
    "skip_to_content": {"en": "Skip to content", "es": "Saltar al contenido"},
    # The start of the session: outcome measures.
    "start_title": {"en": "Before your session", "es": "Antes de su sesión"},
    "start_intro": {
        "en": "Two short questionnaires about the last two weeks. Your answers help you and your therapist see "
        "how things are going.",
        "es": "Dos cuestionarios breves sobre las últimas dos semanas. Sus respuestas les ayudan a usted y a su "
        "terapeuta a ver cómo van las cosas.",
    },
    "skip_note": {
        "en": "You may leave a question blank if you prefer not to answer it.",
        "es": "Puede dejar una pregunta en blanco si prefiere no responderla.",
    },
    "english_only": {
        "en": "This questionnaire is only available in English for now.",
        "es": "Por ahora, este cuestionario solo está disponible en inglés.",
    },
    "send": {"en": "Send my answers", "es": "Enviar mis respuestas"},
    # Between the two stages: the session itself.
    "interlude_title": {"en": "Thank you — see you at the end", "es": "Gracias — hasta el final de la sesión"},
    "interlude_text": {
        "en": "At the end of your session you will answer a few short questions about how the session went. "
        "Keep this page open, or open the same link again then.",
        "es": "Al final de su sesión responderá unas pocas preguntas breves sobre cómo fue la sesión. Deje esta "
        "página abierta o vuelva a abrir el mismo enlace en ese momento.",
    },
    "continue_end": {"en": "The session has ended — continue", "es": "La sesión terminó — continuar"},
    # The safety message after a risk answer (the practice's own crisis contacts follow it).
    "safety_title": {"en": "Your safety matters", "es": "Su seguridad es importante"},
    "safety_told": {
        "en": "Your therapist has been told about your answer and will talk with you about it.",
        "es": "Ya le avisamos a su terapeuta sobre su respuesta; hablará con usted al respecto.",
    },
    # The end of the session: the relationship check-in.
    "end_title": {"en": "About today's session", "es": "Sobre la sesión de hoy"},
    "end_intro": {
        "en": "Eight quick questions. Tap a number from 0 to 10 for each.",
        "es": "Ocho preguntas rápidas. Toque un número del 0 al 10 en cada una.",
    },
    # The support tool's follow-up questionnaire, sent by the therapist between sessions.
    "followup_title": {"en": "A few questions from your therapist", "es": "Unas preguntas de su terapeuta"},
    "followup_intro": {
        "en": "Ten short questions, about two minutes. Your therapist will read your answers before your next session.",
        "es": "Diez preguntas breves, unos dos minutos. Su terapeuta leerá sus respuestas antes de su próxima sesión.",
    },
    "thanks_title": {"en": "Thank you", "es": "Gracias"},
    "thanks_text": {
        "en": "Your answers have been sent. You can close this page now.",
        "es": "Sus respuestas se enviaron. Ya puede cerrar esta página.",
    },
    # Errors on a form (nothing was stored).
    "errors_title": {"en": "Please check your answers", "es": "Por favor, revise sus respuestas"},
    "invalid_summary": {
        "en": "Some answers could not be read. Please choose them again.",
        "es": "No pudimos leer algunas respuestas. Por favor, elíjalas otra vez.",
    },
    "question": {"en": "question", "es": "pregunta"},
    "invalid_answer": {
        "en": "We could not read this answer. Please choose one of the options again.",
        "es": "No pudimos leer esta respuesta. Por favor, elija otra vez una de las opciones.",
    },
    "no_answers": {
        "en": "You have not answered any question yet. Please answer at least one.",
        "es": "Todavía no ha respondido ninguna pregunta. Por favor, responda al menos una.",
    },
    "stale_form": {
        "en": "This page was out of date. Please check your answers and send them again.",
        "es": "Esta página estaba desactualizada. Por favor, revise sus respuestas y envíelas otra vez.",
    },
    "nothing_saved": {"en": "Nothing has been saved yet.", "es": "Todavía no se guardó nada."},
    # A link that cannot be used.
    "unknown_title": {"en": "We could not find this link", "es": "No encontramos este enlace"},
    "unknown_text": {
        "en": "The address may be incomplete. Please check that you opened the whole link.",
        "es": "Es posible que la dirección esté incompleta. Revise que abrió el enlace completo.",
    },
    "expired_title": {"en": "This link has expired", "es": "Este enlace ya venció"},
    "expired_text": {
        "en": "Check-in links only work for a few hours.",
        "es": "Los enlaces solo funcionan durante unas horas.",
    },
    "used_title": {"en": "This check-in is already complete", "es": "Este cuestionario ya está completo"},
    "used_text": {
        "en": "Thank you! Your answers were received. Each link works only once.",
        "es": "¡Gracias! Recibimos sus respuestas. Cada enlace funciona una sola vez.",
    },
    "superseded_title": {"en": "This link is no longer valid", "es": "Este enlace ya no es válido"},
    "superseded_text": {
        "en": "A newer link was made for this session.",
        "es": "Se creó un enlace más reciente para esta sesión.",
    },
    "paused_title": {"en": "Please wait a few minutes", "es": "Por favor, espere unos minutos"},
    "paused_text": {
        "en": "Too many links that do not exist were opened from this network. Please try your link again later.",
        "es": "Se abrieron demasiados enlaces que no existen desde esta red. Intente abrir su enlace más tarde.",
    },
    "ask_therapist": {
        "en": "If you still need to answer, please ask your therapist for a new link.",
        "es": "Si todavía necesita responder, pídale a su terapeuta un enlace nuevo.",
    },
    # The clinic tablet (kiosk mode).
    "kiosk_hand_back": {
        "en": "Please hand the tablet back to your therapist.",
        "es": "Por favor, devuelva la tableta a su terapeuta.",
    },
    "kiosk_not_done": {"en": "Your questions are not finished yet.", "es": "Sus preguntas aún no terminan."},
    "kiosk_back": {"en": "Back to the questions", "es": "Volver a las preguntas"},
    "done": {"en": "Done", "es": "Listo"},
}

STRINGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {key: MappingProxyType(texts) for key, texts in _STRINGS.items()}
)


def strings(language: str) -> dict[str, str]:
    """Return every UI string in ``language`` (English for a language we do not have)."""
    code = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return {key: texts[code] for key, texts in STRINGS.items()}


def choose_language(*candidates: str | None) -> str:
    """Return the first candidate that is a supported language code (else English)."""
    for candidate in candidates:
        if candidate and candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def language_names(current: str) -> Iterable[tuple[str, str, bool]]:
    """Yield ``(code, own name, is current)`` for the language switch."""
    for code, name in LANGUAGES.items():
        yield code, name, code == current
