"""Physical dimensions as exponents of mass, volume and time."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    """Exponents of mass, volume and time; only the named dimensions below are supported."""

    mass: int
    volume: int
    time: int

    def times(self, other: "Dimension", sign: int = 1) -> "Dimension":
        """The dimension of a product (sign=1) or a quotient (sign=-1)."""
        return Dimension(
            self.mass + sign * other.mass,
            self.volume + sign * other.volume,
            self.time + sign * other.time,
        )

    @property
    def name(self) -> str:
        """Plain name with examples, e.g. 'mass rate (e.g. mg/day, mcg/h)'."""
        return _NAMES.get(self, f"unsupported dimension {self.mass, self.volume, self.time}")

    @property
    def supported(self) -> bool:
        return self in _NAMES


DIMENSIONLESS = Dimension(0, 0, 0)
MASS = Dimension(1, 0, 0)
VOLUME = Dimension(0, 1, 0)
TIME = Dimension(0, 0, 1)
CONCENTRATION = Dimension(1, -1, 0)
MASS_RATE = Dimension(1, 0, -1)
VOLUME_RATE = Dimension(0, 1, -1)

_NAMES = {
    DIMENSIONLESS: "pure number",
    MASS: "mass (e.g. mg, mcg)",
    VOLUME: "volume (e.g. mL)",
    TIME: "duration (e.g. h, day)",
    CONCENTRATION: "concentration (e.g. mg/mL, mcg/mL)",
    MASS_RATE: "mass rate (e.g. mg/day, mcg/h)",
    VOLUME_RATE: "volume rate (e.g. mL/day, mL/h)",
}
