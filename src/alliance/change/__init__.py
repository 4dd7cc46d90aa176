"""Change statistics: reliable change, clinical significance, reliability, NHS outcomes, sudden changes."""

from alliance.change.consistency import Alpha, Omega, cronbach_alpha, mcdonald_omega
from alliance.change.proportions import wilson_interval
from alliance.change.rci import RciResult, reliable_change
from alliance.change.significance import ChangeAnalysis, Cutoff, change_table, clinical_cutoff
from alliance.change.sudden import find_sudden_changes
from alliance.change.talking_therapies import OutcomeSummary, episode_outcomes, is_case, summarise_outcomes

__all__ = [
    "Alpha",
    "ChangeAnalysis",
    "Cutoff",
    "Omega",
    "OutcomeSummary",
    "RciResult",
    "change_table",
    "clinical_cutoff",
    "cronbach_alpha",
    "episode_outcomes",
    "find_sudden_changes",
    "is_case",
    "mcdonald_omega",
    "reliable_change",
    "summarise_outcomes",
    "wilson_interval",
]
