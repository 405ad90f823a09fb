"""Where the drug is, by lot: each fill starts a lot, and all drug amounts follow from volumes.

A lot begins with ``volume0`` of well-mixed solution holding ``mass0[drug]`` (the residual of the previous
lot plus the fill). Volume leaves the reservoir in order, so any portion of a lot is a range ``[a, b)`` of
its cumulative outflow, and the drug in it is ``F(b) - F(a)`` with ``F(x) = mass0 * x // volume0``. Ranges
add up exactly, so the pump only moves volumes while it runs and works out amounts when asked.

The fluid path (pump tubing plus catheter) is a first-in first-out column of such ranges; after implant or a
catheter revision it holds drug-free fluid (lot ``None``) until that has been pushed out.
"""


Concentrations = tuple[tuple[str, int], ...]
"""(drug, ng/mL) pairs, as :attr:`openidds.pump.solution.Solution.ng_per_ml` holds them; the same object
stands for the same solution all the way down the column, and a row of the log that holds it stays out of
the garbage collector's way (a tuple of strings and integers is not tracked)."""


class Lot:
    """One fill of the reservoir, mixed with what the previous lot left."""

    __slots__ = ("volume0", "mass0", "drawn", "ng_nominal")

    def __init__(self, volume0: int, mass0: dict[str, int], ng_nominal: Concentrations) -> None:
        """``ng_nominal``: the concentrations the pump was told, as the solution's (drug, ng/mL) pairs."""
        self.volume0, self.mass0, self.ng_nominal = volume0, mass0, ng_nominal
        self.drawn = 0

    def amounts(self, a: int, b: int) -> dict[str, int]:
        """Drug in the outflow range [a, b)."""
        v0 = self.volume0
        return {drug: m * b // v0 - m * a // v0 for drug, m in self.mass0.items()}

    def remaining(self) -> dict[str, int]:
        """Drug still in the reservoir."""
        return self.amounts(self.drawn, self.volume0)


class FluidPath:
    """The column between the reservoir and the catheter tip, as ``[lot, a, b]`` ranges, front first."""

    __slots__ = ("chunks", "exited")

    def __init__(self, volume: int, exited: list[list]) -> None:
        """A drug-free path of ``volume``; what leaves the tip is added to ``exited``."""
        self.chunks: list[list] = [[None, 0, volume]]
        self.exited = exited

    def push(self, lot: Lot, a: int, b: int) -> None:
        """Push the lot's outflow range [a, b) in at the pump; the same volume leaves at the tip."""
        chunks, exited = self.chunks, self.exited
        if len(chunks) == 1:
            only = chunks[0]
            if only[0] is lot and only[2] == a and exited and exited[-1][0] is lot and exited[-1][2] == only[1]:
                # the usual case: one lot fills the path; its front and the last exited range both move on
                only[2] = b
                only[1] += b - a
                exited[-1][2] = only[1]
                return
        back = chunks[-1]
        if back[0] is lot and back[2] == a:
            back[2] = b
        else:
            self.chunks.append([lot, a, b])
        volume = b - a
        while volume:
            front = chunks[0]
            f_lot, f_a, f_b = front
            take = min(volume, f_b - f_a)
            if f_lot is not None:
                extend_ranges(exited, f_lot, f_a, f_a + take)
            front[1] = f_a + take
            volume -= take
            if front[1] == f_b and len(chunks) > 1:
                del chunks[0]

    def amounts(self) -> dict[str, int]:
        """Drug now in the path."""
        return sum_ranges(self.chunks)


def extend_ranges(ranges: list[list], lot: Lot, a: int, b: int) -> None:
    """Add the range [a, b) of ``lot``, merging it with the last range when they touch."""
    if ranges:
        last = ranges[-1]
        if last[0] is lot and last[2] == a:
            last[2] = b
            return
    ranges.append([lot, a, b])


def sum_ranges(ranges: list[list]) -> dict[str, int]:
    total: dict[str, int] = {}
    for lot, a, b in ranges:
        if lot is not None:
            for drug, mass in lot.amounts(a, b).items():
                total[drug] = total.get(drug, 0) + mass
    return total


def add_drug(total: dict[str, int], ng: Concentrations, volume: int) -> None:
    """Add the drug in ``volume`` of the solution ``ng`` to ``total`` (mass ticks per drug)."""
    for drug, conc in ng:
        total[drug] = total.get(drug, 0) + volume * conc


class CountedColumn:
    """The pump's own view of its tubing and catheter: volumes of the concentrations it was told (ng/mL per
    drug, ``{}`` for drug-free fluid), front first. It moves with the volume the pump counts, so the pump
    counts drug as it leaves the catheter tip, which is what the 24-hour limit is about."""

    __slots__ = ("chunks",)

    def __init__(self, volume: int) -> None:
        self.chunks: list[list] = [[volume, ()]]

    def drug_free(self) -> int:
        """The volume of drug-free fluid at the front: what can be pushed before any drug reaches the tip."""
        free = 0
        for volume, ng in self.chunks:
            if ng:
                break
            free += volume
        return free

    def highest(self, drug: str) -> int:
        """The highest concentration of ``drug`` anywhere in the column."""
        return max((conc for _, ng in self.chunks for name, conc in ng if name == drug), default=0)

    def push(self, volume: int, ng: Concentrations) -> dict[str, int]:
        """Push ``volume`` of solution ``ng`` in; return the drug that leaves at the tip."""
        chunks = self.chunks
        if len(chunks) == 1 and chunks[0][1] is ng:  # the usual case: one solution fills the column
            return {drug: volume * conc for drug, conc in ng}
        if chunks[-1][1] is ng:
            chunks[-1][0] += volume
        else:
            chunks.append([volume, ng])
        out: dict[str, int] = {}
        while volume:
            front = chunks[0]
            take = front[0] if front[0] < volume else volume
            for drug, conc in front[1]:
                out[drug] = out.get(drug, 0) + take * conc
            front[0] -= take
            volume -= take
            if front[0] == 0:
                del chunks[0]
        return out

    def peek(self, volume: int) -> dict[str, int]:
        """The drug that pushing ``volume`` would deliver, without moving anything."""
        out: dict[str, int] = {}
        for chunk_volume, ng in self.chunks:
            take = min(chunk_volume, volume)
            for drug, conc in ng:
                out[drug] = out.get(drug, 0) + take * conc
            volume -= take
            if not volume:
                break
        return out
