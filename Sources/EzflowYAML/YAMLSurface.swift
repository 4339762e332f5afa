import CYAML
import EzflowDiagnostics
import EzflowSyntax

/// The `.ezflow.yaml` surface (see docs/YAML.md once written).
public enum YAMLSurface {}
