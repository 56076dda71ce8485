"""Every part of the environment's graph (graph.py). A new service is a module with a PART,
added here."""

from pytest_boxkoji import kojisrc, orch, servicespy
from pytest_boxkoji.services import hub, kdc, postgres

PARTS = (kojisrc.PART, servicespy.PART, kdc.PART, orch.PART, postgres.PART, hub.PART)
