// The script editor: CodeMirror 6 with Python highlighting, Ctrl+Enter (Cmd+Enter) to run, and a
// mark on the line an error points at, which follows the text as it is edited.
//
// It lives in a shadow root: there CodeMirror adds its styles as constructed style sheets, which
// the page's Content-Security-Policy (style-src 'self') allows, where in the document it would
// add a <style> element, which the policy refuses. Its look is therefore its theme, not style.css.
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { EditorState, Prec, StateEffect, StateField } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";

const markLine = StateEffect.define<number | null>();
const errorLineDecoration = Decoration.line({ class: "cm-error-line", attributes: { "data-error-line": "true" } });

const errorLine = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, tr) {
    let next = marks.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(markLine)) continue;
      const line = effect.value;
      next = line === null || line < 1 || line > tr.state.doc.lines
        ? Decoration.none
        : Decoration.set([errorLineDecoration.range(tr.state.doc.line(line).from)]);
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

const theme = EditorView.theme({
  "&": { height: "22rem", fontSize: "14px" },
  "&.cm-focused": { outline: "2px solid #1f5fbf" },
  ".cm-scroller": { overflow: "auto", fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace' },
  // The line the error points at (error.line).
  ".cm-error-line": { backgroundColor: "#fdecea", boxShadow: "inset 3px 0 0 #b3261e" },
});

export class ScriptEditor {
  readonly view: EditorView;

  constructor(host: HTMLElement, onRun: () => void) {
    const root = host.attachShadow({ mode: "open" });
    this.view = new EditorView({
      parent: root,
      root,
      state: EditorState.create({
        extensions: [
          // Above basicSetup's own Mod-Enter (insert a blank line).
          Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => { onRun(); return true; } }])),
          basicSetup,
          keymap.of([indentWithTab]),
          python(),
          theme,
          errorLine,
          EditorView.contentAttributes.of({ "aria-label": "Python script" }),
        ],
      }),
    });
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  set text(value: string) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: value }, effects: markLine.of(null) });
  }

  /** Marks line `line` (1-based) and scrolls to it; null clears the mark. */
  markError(line: number | null): void {
    const effects: StateEffect<unknown>[] = [markLine.of(line)];
    if (line !== null && line >= 1 && line <= this.view.state.doc.lines) {
      effects.push(EditorView.scrollIntoView(this.view.state.doc.line(line).from, { y: "center" }));
    }
    this.view.dispatch({ effects });
  }

  focus(): void {
    this.view.focus();
  }
}
