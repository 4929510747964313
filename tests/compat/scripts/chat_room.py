"""A chat between two example agents, in the style of TinyTroupe's "Simple Chat" example."""

from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinySocialNetwork, TinyWorld  # noqa: F401
from tinytroupe.examples import *  # noqa: F403

lisa = create_lisa_the_data_scientist()  # noqa: F405
oscar = create_oscar_the_architect()  # noqa: F405
world = TinyWorld("Chat Room", [lisa, oscar])
world.make_everyone_accessible()
lisa.listen("Talk to Oscar to know more about him")
world.run(4)
lisa.pp_current_interactions()
oscar.pp_current_interactions(max_content_length=80)

RESULT = {"talks": sum(1 for e in world.transcript if e["type"] == "TALK"),
          "lisa_said": [e["content"] for e in world.transcript if e["source"] == lisa.name],
          "agents": TinyPerson.all_agents_names()}
