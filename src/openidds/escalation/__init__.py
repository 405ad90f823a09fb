"""Alarm escalation: no alarm left unanswered.

A pure core (no I/O, no clock: time is an argument): the clinic's policy (tiers, timeouts per tier and priority,
quiet hours, on-call rota, transports) and a state machine per alarm whose steps return the new state plus the
notifications to send. The registry keeps the state and an outbox (:mod:`openidds.clinic.escalations`); the web
app's transports send it (:mod:`openidds.web.transports`). See docs/escalation.md.
"""

from openidds.escalation.channels import Channel
from openidds.escalation.errors import EscalationError, PolicyError, ResponderError
from openidds.escalation.machine import (
    AlarmRaised,
    Escalation,
    LogEntry,
    LogKind,
    Phase,
    Step,
    acknowledge,
    advance,
    clear,
    merge_duplicate,
    raise_alarm,
    record_delivery,
    record_failure,
    resolve,
)
from openidds.escalation.notification import Audience, Contact, DeliveryStatus, Notification
from openidds.escalation.policy import Policy, PolicyFormat, Tier, parse_policy, policy_from
from openidds.escalation.priority import Priority
from openidds.escalation.records import from_record, to_record
from openidds.escalation.responders import Delay, Responders, Response, parse_responders
from openidds.escalation.rota import Shift, StaffRole

__all__ = [
    "AlarmRaised", "Audience", "Channel", "Contact", "Delay", "DeliveryStatus", "Escalation", "EscalationError",
    "LogEntry", "LogKind", "Notification", "Phase", "Policy", "PolicyError", "PolicyFormat", "Priority",
    "ResponderError", "Responders", "Response", "Shift", "StaffRole", "Step", "Tier", "acknowledge", "advance",
    "clear", "from_record", "merge_duplicate", "parse_policy", "parse_responders", "policy_from", "raise_alarm",
    "record_delivery", "record_failure", "resolve", "to_record",
]
