// Renders ```mermaid blocks (pymdownx.superfences puts them in <div class="mermaid">).
// Without network access the diagram source stays readable as text.
import mermaid from "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs";

mermaid.initialize({ startOnLoad: true });
