"""The port of docs/img/html_report.png: samspec's float32 reference without SAM's +0.5 pixel-centre
shift (§3.1), the catalogue variant `no_pixel_shift`."""

from samspec.conformance.diagnosis.variants import VariantAdapter


class NoShift(VariantAdapter):
    def __init__(self):
        super().__init__("no_pixel_shift")
