// `scriptrun completion bash|zsh`: a completion script made from the program itself (its commands,
// options and choices), so it cannot fall behind them. Run names, runtime names and contexts are
// asked for when completed (`list -o name`, `runtimes -o name` with the --server, --kubeconfig,
// --context and -n already typed; kubectl's contexts). zsh runs the bash script through bashcompinit.
import type { Argument, Command, Option } from "commander";
import type { Shell } from "./program.js";

/** What completes the value of an option or argument, by its name, besides its choices. */
const DYNAMIC: Record<string, string> = {
  file: "files",
  name: "runs",
  "--runtime": "runtimes",
  "--kubeconfig": "files",
  "--stdin": "files",
  "--context": "contexts",
};

const SOURCES: Record<string, string> = {
  files: 'COMPREPLY=($(compgen -f -- "$cur"))',
  runs: 'COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${globals[@]}" list -o name 2>/dev/null)" -- "$cur"))',
  runtimes: 'COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${globals[@]}" runtimes -o name 2>/dev/null)" -- "$cur"))',
  contexts: 'COMPREPLY=($(compgen -W "$(kubectl config get-contexts -o name 2>/dev/null)" -- "$cur"))',
};

const takesValue = (o: Option) => o.required || o.optional;
const flagsOf = (o: Option) => [o.short, o.long].filter((f): f is string => f !== undefined);
const words = (list: readonly string[]) => list.join(" ");
const choose = (list: readonly string[]) => `COMPREPLY=($(compgen -W "${words(list)}" -- "$cur"))`;

/** How a value is completed: its choices, or what DYNAMIC names, or nothing (free text). */
function valueCompletion(key: string, choices: readonly string[] | undefined): string {
  if (choices) return choose(choices);
  const source = DYNAMIC[key];
  return source ? SOURCES[source]! : "COMPREPLY=()";
}

export function completionScript(program: Command, shell: Shell): string {
  const name = program.name().replace(/\s+/g, "-");
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, "_")}_complete`;
  const globalOptions = program.options;
  const globalValueFlags = globalOptions.filter(takesValue).flatMap(flagsOf);
  const commands = program.commands;
  const allValueFlags = [...new Set([...globalValueFlags, ...commands.flatMap((c) => c.options.filter(takesValue).flatMap(flagsOf))])];

  const valueCases = [
    ...commands.flatMap((c) => c.options.filter(takesValue).map((o) =>
      `    ${[c.name(), ...c.aliases()].flatMap((n) => flagsOf(o).map((f) => `"${n} ${f}"`)).join("|")}) ${valueCompletion(o.long ?? "", o.argChoices)}; return ;;`)),
    ...globalOptions.filter(takesValue).map((o) =>
      `    ${flagsOf(o).map((f) => `*" ${f}"`).join("|")}) ${valueCompletion(o.long ?? "", o.argChoices)}; return ;;`),
  ];
  const globalFlags = [...globalOptions.flatMap(flagsOf), "--help"];
  const commandCases = commands.map((c) => {
    const flags = [...c.options.flatMap(flagsOf), ...globalFlags];
    const argument = (c as Command & { registeredArguments: readonly Argument[] }).registeredArguments[0];
    const operand = argument ? valueCompletion(argument.name(), argument.argChoices) : "COMPREPLY=()";
    return `    ${[c.name(), ...c.aliases()].join("|")})\n      if [[ "$cur" == -* ]]; then ${choose(flags)}; else ${operand}; fi ;;`;
  });

  const header = `# ${shell} completion for ${program.name()}: source <(${program.name()} completion ${shell})\n`;
  const bash = `${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" word i
  local -a globals=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      ${globalValueFlags.join("|")}) globals+=("$word" "\${COMP_WORDS[i+1]}"); ((i++)) ;;
      ${allValueFlags.filter((f) => !globalValueFlags.includes(f)).join("|")}) ((i++)) ;;
      -*) ;;
      *) [[ -z "$cmd" ]] && cmd="$word" ;;
    esac
  done
  case "$cmd $prev" in
${valueCases.join("\n")}
  esac
  case "$cmd" in
    "") ${choose([...commands.flatMap((c) => [c.name(), ...c.aliases()]), ...globalFlags])} ;;
${commandCases.join("\n")}
  esac
}
complete -F ${fn} ${name}
`;
  return shell === "zsh" ? `${header}autoload -U +X bashcompinit && bashcompinit\n${bash}` : `${header}${bash}`;
}
