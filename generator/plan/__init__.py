"""PLAN: Scenario -> ScenarioPlan: costs, ownership, the decision, the risk analysis."""
