"""Customising agents with fragments, in the style of TinyTroupe's "Political Compass"."""

from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld
from tinytroupe.examples import load_example_agent_specification

FRAGMENTS = __import__("pathlib").Path(
    __import__("tinytroupe.examples", fromlist=["x"]).__file__).parent / "fragments"

oscar = TinyPerson.load_specification(load_example_agent_specification("Oscar"),
                                      new_agent_name="Oscar L.L.")
oscar.import_fragment(FRAGMENTS / "leftwing.agent.fragment.json")
oscar.import_fragment(FRAGMENTS / "libertarian.agent.fragment.json")
print(oscar.minibio())
other = TinyPerson.load_specification(load_example_agent_specification("Oscar"),
                                      new_agent_name="Oscar R.L.")
other.import_fragment(FRAGMENTS / "rightwing.agent.fragment.json")
world = TinyWorld("Debate", [oscar, other])
world.make_everyone_accessible()
world.broadcast("The city plans to close the centre to cars. What do you think?")
world.run(2)
RESULT = {"beliefs": oscar.get("beliefs"), "talks": len(world.transcript)}
