"""Small word lists for lexical cues in therapist speech. Our own, written for this project, and provisional.

None of these lists is validated. They make transparent *indicators* that a therapist can check against the
transcript, not scores: a phrase that matches is a cue worth looking at, and talk without any match may still be
warm, clear and boundaried. Phrases are matched on whole words, ignoring case and punctuation (``"It's"`` and
``"it’s"`` match ``"it's"``; hyphens match spaces).

- Empathy cues follow the three communication mechanisms of EPITOME (Sharma et al. 2020): *emotional
  reactions* (warmth, compassion, concern), *interpretations* (saying what the client seems to feel or
  experience) and *explorations* (asking about feelings and experiences not yet said). EPITOME rates each from
  0 to 2 with trained models; here each is only a list of stock phrases.
- Self-disclosure cues are first-person phrases about the therapist's own life or experience.
- Jargon is clinical and technical vocabulary a client may not share.

References
----------
Sharma, A., Miner, A. S., Atkins, D. C., & Althoff, T. (2020). A computational approach to understanding
empathy expressed in text-based mental health support. Proceedings of EMNLP 2020, 5263-5276.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "EMOTIONAL_REACTIONS",
    "EXPLORATIONS",
    "INTERPRETATIONS",
    "JARGON",
    "SELF_DISCLOSURE",
    "matcher",
    "normalise",
]

EMOTIONAL_REACTIONS = (
    "i'm sorry",
    "i am sorry",
    "so sorry",
    "sorry to hear",
    "sorry that happened",
    "that sounds hard",
    "that sounds really hard",
    "that sounds difficult",
    "that sounds painful",
    "that sounds scary",
    "that sounds frightening",
    "that sounds tough",
    "that sounds awful",
    "that must be hard",
    "that must have been hard",
    "that must be difficult",
    "that must have been difficult",
    "that must be painful",
    "must have been scary",
    "i can imagine",
    "i can only imagine",
    "i feel for you",
    "my heart goes out",
    "that's awful",
    "that's terrible",
    "that's so hard",
    "that's really hard",
    "that's tough",
    "i'm glad",
    "i am glad",
    "i'm so glad",
    "i'm happy for you",
    "i'm concerned",
    "i am concerned",
    "i'm worried about you",
    "thank you for sharing",
    "thanks for sharing",
    "i appreciate you",
)

INTERPRETATIONS = (
    "it sounds like",
    "sounds like you",
    "it sounds as if",
    "it seems like",
    "it seems that",
    "seems like you",
    "it seems as if",
    "you feel",
    "you're feeling",
    "you are feeling",
    "you felt",
    "you've been feeling",
    "you must feel",
    "you must have felt",
    "you must be feeling",
    "i get the sense",
    "i sense that",
    "i hear you",
    "what i'm hearing",
    "what i hear",
    "i understand",
    "it makes sense",
    "that makes sense",
    "makes sense that you",
    "part of you",
    "on the one hand",
    "on the other hand",
)

EXPLORATIONS = (
    "how did that make you feel",
    "how does that make you feel",
    "how do you feel",
    "how did you feel",
    "how are you feeling",
    "how was that for you",
    "how is that for you",
    "what was that like",
    "what's that like",
    "what is that like",
    "what was it like",
    "what's it like",
    "tell me more",
    "say more",
    "tell me about",
    "can you tell me",
    "could you tell me",
    "what do you mean",
    "what happened",
    "what makes you",
    "what goes through your mind",
    "what comes up",
    "what's going on for you",
    "help me understand",
    "what concerns you",
    "what worries you",
)

# Not "I also" alone: in AnnoMI's therapist talk all 14 matches were "I also want to / noticed / appreciate ...".
SELF_DISCLOSURE = (
    "i also had",
    "i also have had",
    "i also went through",
    "i also struggled",
    "i also used to",
    "i also felt",
    "i also feel that way",
    "me too",
    "me as well",
    "same here",
    "same with me",
    "when i was",
    "in my experience",
    "from my experience",
    "in my own",
    "in my life",
    "my own experience",
    "i've been there",
    "i have been there",
    "i went through",
    "i've gone through",
    "i have gone through",
    "i've struggled",
    "i struggled",
    "happened to me",
    "i used to",
    "i myself",
    "personally i",
    "i had a similar",
    "i've had a similar",
    "i know what it's like",
    "i know how that feels",
    "my wife",
    "my husband",
    "my partner",
    "my kids",
    "my children",
    "my son",
    "my daughter",
    "my mother",
    "my father",
    "my mom",
    "my dad",
    "my family",
)

JARGON = (
    "ambivalence",
    "ambivalent",
    "cognition",
    "cognitions",
    "cognitive",
    "cognitive distortion",
    "cognitive distortions",
    "cognitive restructuring",
    "schema",
    "schemas",
    "maladaptive",
    "dysfunctional",
    "dysregulation",
    "psychoeducation",
    "intervention",
    "interventions",
    "comorbid",
    "comorbidity",
    "co-occurring",
    "aetiology",
    "etiology",
    "pathology",
    "pathological",
    "psychopathology",
    "symptomatology",
    "dissociation",
    "dissociative",
    "rumination",
    "ruminate",
    "catastrophising",
    "catastrophizing",
    "transference",
    "countertransference",
    "somatic",
    "somatisation",
    "somatization",
    "psychosomatic",
    "hypervigilance",
    "hypervigilant",
    "exposure hierarchy",
    "behavioural activation",
    "behavioral activation",
    "self-efficacy",
    "efficacy",
    "discrepancy",
    "precontemplation",
    "contemplation stage",
    "stages of change",
    "affect regulation",
    "emotion regulation",
    "biopsychosocial",
    "neurotransmitter",
    "neurotransmitters",
    "serotonin",
    "dopamine",
    "contraindicated",
    "contraindication",
    "titrate",
    "modality",
    "relapse prevention",
    "harm reduction",
    "psychometric",
    "prognosis",
    "aversive",
    "reinforcement",
    "reinforcer",
    "extinction",
    "valence",
)

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def normalise(text: str) -> str:
    """Lower-case ``text``, unify apostrophes and turn every other non-word character into one space."""
    lowered = text.lower().translate(_APOSTROPHES)
    return " ".join(re.sub(r"[^\w']+|_", " ", lowered).split())


@lru_cache(maxsize=32)
def matcher(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """Compile ``phrases`` into one pattern that finds them as whole words in :func:`normalise`-d text."""
    forms = sorted({normalise(phrase) for phrase in phrases}, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(form) for form in forms) + r")(?![\w'])")
