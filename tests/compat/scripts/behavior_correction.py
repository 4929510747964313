"""Behaviour correction in the style of upstream's examples: quality-checked actions."""

from tinytroupe.agent import TinyPerson
from tinytroupe.agent.action_generator import ActionGenerator
from tinytroupe.environment import TinyWorld
from tinytroupe.examples import create_lisa_the_data_scientist, create_oscar_the_architect

lisa = create_lisa_the_data_scientist()
oscar = create_oscar_the_architect()
for agent in (lisa, oscar):
    agent.action_generator = ActionGenerator(
        enable_quality_checks=True, enable_regeneration=True, max_attempts=2,
        enable_quality_check_for_persona_adherence=True,
        enable_quality_check_for_suitability=True, quality_threshold=0,
        continue_on_failure=True)

world = TinyWorld("Corrected chat", [lisa, oscar])
world.make_everyone_accessible()
lisa.listen("Tell Oscar what you think of open-plan offices.")
world.run(2)

RESULT = {"talks": sum(1 for e in world.transcript if e["type"] == "TALK"),
          "agents": TinyPerson.all_agents_names(),
          "failures": world.get_agent_failures()}
