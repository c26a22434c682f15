"""How much of each sampler family lies inside the training support of a dataset's training split
(mimpc.training.support.TrainingSupport, the test stored in checkpoints).

    python benchmarks/support_coverage.py [--samples 1000] data/robot_nav data/robot_nav_mix3
"""

import argparse

from mimpc.problems import make_problem
from mimpc.problems.samplers import sample_thetas
from mimpc.training.dataset import load_dataset
from mimpc.training.support import TrainingSupport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="+", help="dataset folders of one problem")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| training data | uniform in support % | starts in support % | own test split in support % |")
    print("|---|---|---|---|")
    for folder in args.data:
        ds = load_dataset(folder)
        p = make_problem(ds.meta["problem"])
        sup = TrainingSupport.fit(ds.subset("train")["theta"])
        rates = [
            100 * sup.contains_batch(sample_thetas(p, fam, args.seed, args.samples)).mean()
            for fam in ("uniform", "starts")
        ]
        own = 100 * sup.contains_batch(ds.subset("test")["theta"]).mean()
        print(f"| {folder} | {rates[0]:.1f} | {rates[1]:.1f} | {own:.1f} |")


if __name__ == "__main__":
    main()
