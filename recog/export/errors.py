"""The one error type of the exporter."""


class ExportError(RuntimeError):
    """Export, parity check or quantization failed; the message names the file and the reason."""
