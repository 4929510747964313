"""Agents who can reach only the people they are related to."""

from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinySocialNetwork
from tinytroupe.examples import (
    create_lila_the_linguist,
    create_lisa_the_data_scientist,
    create_marcos_the_physician,
    create_oscar_the_architect,
)

network = TinySocialNetwork("Neighbourhood")
lisa, oscar = create_lisa_the_data_scientist(), create_oscar_the_architect()
marcos, lila = create_marcos_the_physician(), create_lila_the_linguist()
network.add_relation(lisa, oscar, "friends")
network.add_relation(oscar, marcos, "colleagues")
network.add_agent(lila)  # related to nobody
network.broadcast("There is a street party on Saturday. Who is coming?")
steps = network.run(2, return_actions=True)
RESULT = {
    "contacts": {a.name: sorted(x.name for x in a.accessible_agents) for a in network.agents},
    "talk_targets": sorted({(name, item["action"]["target"]) for step in steps
                            for name, items in step.items() for item in items
                            if item["action"]["type"] == "TALK" and item["action"]["target"]}),
    "related": network.is_in_relation_with(lisa, oscar, "friends"),
    "not_related": network.is_in_relation_with(lisa, marcos),
    "state": network.encode_complete_state()["relations"],
}
assert isinstance(TinyPerson.get_agent_by_name(lisa.name), TinyPerson)
