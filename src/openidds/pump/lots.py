"""Where the drug is, by lot: each fill starts a lot, and all drug amounts follow from volumes.

A lot begins with ``volume0`` of well-mixed solution holding ``mass0[drug]`` (the residual of the previous
lot plus the fill). Volume leaves the reservoir in order, so any portion of a lot is a range ``[a, b)`` of
its cumulative outflow, and the drug in it is ``F(b) - F(a)`` with ``F(x) = mass0 * x // volume0``. Ranges
add up exactly, so the pump only moves volumes while it runs and works out amounts when asked.

The fluid path (pump tubing plus catheter) is a first-in first-out column of such ranges; after implant or a
catheter revision it holds drug-free fluid (lot ``None``) until that has been pushed out.
"""


class Lot:
    """One fill of the reservoir, mixed with what the previous lot left."""

    __slots__ = ("volume0", "mass0", "drawn", "ng_nominal", "pumped_estimated")

    def __init__(self, volume0: int, mass0: dict[str, int], ng_nominal: dict[str, int]) -> None:
        self.volume0, self.mass0, self.ng_nominal = volume0, mass0, ng_nominal
        self.drawn = 0
        self.pumped_estimated = 0

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
        back = self.chunks[-1]
        if back[0] is lot and back[2] == a:
            back[2] = b
        else:
            self.chunks.append([lot, a, b])
        volume = b - a
        chunks, exited = self.chunks, self.exited
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
