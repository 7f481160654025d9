"""`CompactionReport`: what `keras_svd.compact` removed, per layer."""

import dataclasses


@dataclasses.dataclass
class CompactionReport:
    """What `compact` removed, per layer, and what it left dense.

    Attributes:
        layers: one dict per layer with weights (in the model's order):
            `layer` (name), `units_before`, `units_after` (units or
            filters; None for other layers), `params_before`,
            `params_after`, `macs_before`, `macs_after` (multiply-adds per
            example; 0 for layers without a kernel).
        skipped: one dict per part left dense: `layer` (name) and
            `reason`.
    """

    layers: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)

    def total(self, key):
        """The sum of column `key` (e.g. `"params_after"`) over the layers."""
        return sum(row[key] for row in self.layers)

    def __str__(self):
        lines = [
            f"{'layer':<20} {'units':>13} {'params':>21} {'mult-adds':>23}"
        ]
        for row in self.layers:
            units = (
                ""
                if row["units_before"] is None
                else f"{row['units_before']} -> {row['units_after']}"
            )
            lines.append(
                f"{row['layer']:<20} {units:>13} "
                f"{row['params_before']:>9} -> {row['params_after']:<9} "
                f"{row['macs_before']:>10} -> {row['macs_after']:<10}"
            )
        lines.append(
            f"{'total':<20} {'':>13} {self.total('params_before'):>9} -> "
            f"{self.total('params_after'):<9} "
            f"{self.total('macs_before'):>10} -> "
            f"{self.total('macs_after'):<10}"
        )
        lines.extend(
            f"left dense: {s['layer']}: {s['reason']}" for s in self.skipped
        )
        return "\n".join(lines)


__all__ = ["CompactionReport"]
