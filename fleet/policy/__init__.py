"""The desired key-manager state (a policy file) and the diff from what a cluster shows to actions.

Pure: no HTTP, no clock of its own. The engine reads ``ClusterFacts`` from each cluster; ``evaluate``
turns them into findings (rule, severity, observed, expected, message) and the actions ``apply``
would take.
"""

from fleet.policy.actions import Action, plan_actions
from fleet.policy.diff import Evaluation, evaluate
from fleet.policy.facts import CertificateFacts, ClusterFacts, KeyServerFacts, KeyStoreFacts, SvmFacts
from fleet.policy.load import load_policy
from fleet.policy.model import Policy
from fleet.policy.rules import PROBE_CHECKS, RULES, findings_for
from fleet.report.states import counts_against

__all__ = [
    "PROBE_CHECKS",
    "RULES",
    "Action",
    "CertificateFacts",
    "ClusterFacts",
    "Evaluation",
    "KeyServerFacts",
    "KeyStoreFacts",
    "Policy",
    "SvmFacts",
    "counts_against",
    "evaluate",
    "findings_for",
    "load_policy",
    "plan_actions",
]
