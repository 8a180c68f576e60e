"""Observed facts → findings → actions: the one diff behind ``plan``, ``apply`` and ``sweep``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleet.policy.actions import Action, plan_actions
from fleet.policy.facts import ClusterFacts
from fleet.policy.model import Policy
from fleet.policy.rules import findings_for
from fleet.report import Finding
from fleet.report.states import counts_against


@dataclass(frozen=True, slots=True)
class Evaluation:
    cluster: str
    findings: list[Finding]
    actions: list[Action]

    @property
    def compliant(self) -> bool:
        return not any(counts_against(finding) for finding in self.findings)

    def reason(self) -> str:
        counted = sum(1 for finding in self.findings if counts_against(finding))
        return "compliant" if not counted else f"non-compliant: {counted} finding(s)"


def evaluate(policy: Policy, facts: ClusterFacts, partner: ClusterFacts | None, now: datetime) -> Evaluation:
    return Evaluation(facts.name, findings_for(policy, facts, partner, now), plan_actions(policy, facts, now))
