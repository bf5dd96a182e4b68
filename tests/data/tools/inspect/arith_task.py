"""An Inspect task over arithmetic problems, prompted as the bundled models were trained (question + "\\n"),
scored by Inspect's own ``pattern`` scorer; ``epochs`` samples per problem, reduced by the mean (accuracy
over all samples) and by ``pass_at_2`` (Inspect's unbiased pass@2).  Used by tests/test_readers_tools.py."""

import json

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import pattern
from inspect_ai.solver import generate


@task
def arith_inspect(path: str, epochs: int = 4):
    with open(path) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    dataset = MemoryDataset([Sample(input=r["question"] + "\n", target=r["answer"], id=r["problem_id"],
                                    metadata={"difficulty": r["difficulty"]}) for r in rows])
    return Task(dataset=dataset, solver=generate(), scorer=pattern(r"The answer is (-?\d+)"),
                epochs=Epochs(epochs, ["mean", "pass_at_2"]), config=GenerateConfig(temperature=1.0, max_tokens=96))
