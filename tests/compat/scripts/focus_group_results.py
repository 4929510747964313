"""A focus group whose answers are extracted, reduced to rows and told as a story."""

from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld
from tinytroupe.examples import (
    create_lisa_the_data_scientist,
    create_marcos_the_physician,
    create_oscar_the_architect,
)
from tinytroupe.extraction import ResultsExtractor, ResultsReducer
from tinytroupe.steering import TinyStory

focus_group = TinyWorld("Focus group", [create_lisa_the_data_scientist(),
                                        create_oscar_the_architect(),
                                        create_marcos_the_physician()])
focus_group.make_everyone_accessible()
focus_group.broadcast("""
    We are designing a subscription e-bike service. What would make you try it, and
    what would put you off? Please discuss it among yourselves.
""")
focus_group.run(2)

extractor = ResultsExtractor()
opinions = extractor.extract_results_from_agents(
    focus_group.agents, extraction_objective="Each participant's opinion of the service.",
    situation="A focus group about an e-bike subscription.",
    fields=["opinion", "would_try", "concerns"],
    fields_hints={"would_try": "yes or no"})

reducer = ResultsReducer()


def talk(focus_agent, source_agent, target_agent, kind, event, content, timestamp):
    return {"author": focus_agent.name, "content": content}


reducer.add_reduction_rule("TALK", talk)
rows = [row for agent in focus_group.agents for row in reducer.reduce_agent(agent)]

story = TinyStory(focus_group, purpose="Understand what customers want.")
story.start_story()
focus_group.run(1)
continuation = story.continue_story()

RESULT = {"opinions": opinions, "rows": rows, "continuation": continuation,
          "agents": [a.name for a in focus_group.agents],
          "first": TinyPerson.get_agent_by_name("Lisa Carter").name}
