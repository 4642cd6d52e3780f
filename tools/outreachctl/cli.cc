#include "tools/outreachctl/cli.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/outreachctl/table.h"

namespace outreach::ctl {

void Progress::Update(const std::string& text) {
  if (!enabled_) return;
  err_ << "\r" << text << "\033[K" << std::flush;
  shown_ = true;
}

void Progress::Done() {
  if (!enabled_ || !shown_) return;
  err_ << "\r\033[K" << std::flush;
  shown_ = false;
}

int Context::Fail(const std::string& what, const google::protobuf::MethodDescriptor* method,
                  const Outcome& outcome) const {
  if (!outcome.local_error.empty()) {
    *err << "outreachctl: " << what << ": " << outcome.local_error << "\n";
    return kExitUsage;
  }
  const std::string service = Connection::ServiceOf(method);
  *err << "outreachctl: " << DescribeFailure(what, connection->TargetOf(service), outcome.status)
       << "\n";
  return ExitCodeFor(outcome.status.error_code());
}

int Context::Usage(const std::string& message) const {
  *err << "outreachctl: " << message << "\n";
  return kExitUsage;
}

int Context::Problem(const std::string& message, int code) const {
  *err << "outreachctl: " << message << "\n";
  return code;
}

const Registry& Commands() {
  static const Registry registry = [] {
    Registry r;
    RegisterWorkshopsCommands(r);
    RegisterTrainingCommands(r);
    RegisterCampaignsCommands(r);
    RegisterMetricsCommands(r);
    RegisterExportCommands(r);
    r.Add(Command{{"completion", "bash"},
                  "",
                  "print the bash completion script",
                  "Load it with: source <(outreachctl completion bash)",
                  {},
                  false,
                  "",
                  [](Context& ctx) {
                    *ctx.out << BashCompletion(Commands());
                    return 0;
                  }});
    return r;
  }();
  return registry;
}

namespace {

std::string PathText(const std::vector<std::string>& path) { return absl::StrJoin(path, " "); }

bool StartsWithPath(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  if (prefix.size() > path.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), path.begin());
}

std::string TopHelp(const Registry& registry) {
  std::string out =
      "outreachctl: the operators' command line for the Cyber Outreach Suite.\n\n"
      "Usage: outreachctl <command> [arguments] [flags]\n\nCommands:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : registry.commands()) {
    rows.push_back(
        {"  " + PathText(c.path) + (c.arguments.empty() ? "" : " " + c.arguments), c.summary});
  }
  out += RenderTable({"", ""}, rows, 0).substr(1);  // drop the empty header line
  absl::StrAppend(
      &out, "\nFlags of every command:\n", FlagHelp(GlobalFlags()),
      "\nSettings come from flags, then OUTREACH_<FLAG> environment variables (e.g. "
      "OUTREACH_TOKEN_FILE),\nthen the config file. Exit codes: 0 ok, 1 error, 2 usage, "
      "3 invalid argument, 4 not found,\n5 refused, 6 conflict, 7 unavailable, 8 some rows "
      "rejected.\n`outreachctl <command> --help` for a command's flags.\n");
  return out;
}

std::string GroupHelp(const Registry& registry, const std::vector<std::string>& prefix) {
  std::string out =
      absl::StrCat("Usage: outreachctl ", PathText(prefix), " <command> [flags]\n\nCommands:\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : registry.commands()) {
    if (!StartsWithPath(c.path, prefix)) continue;
    rows.push_back(
        {"  " + PathText(c.path) + (c.arguments.empty() ? "" : " " + c.arguments), c.summary});
  }
  out += RenderTable({"", ""}, rows, 0).substr(1);
  return out;
}

std::string CommandHelp(const Command& c) {
  std::string out =
      absl::StrCat("Usage: outreachctl ", PathText(c.path),
                   c.arguments.empty() ? "" : " " + c.arguments, " [flags]\n\n", c.summary, "\n");
  if (!c.description.empty()) absl::StrAppend(&out, "\n", c.description, "\n");
  if (!c.flags.empty()) absl::StrAppend(&out, "\nFlags:\n", FlagHelp(c.flags));
  absl::StrAppend(&out, "\nFlags of every command:\n", FlagHelp(GlobalFlags()));
  return out;
}

bool TakesValue(const std::string& word) {
  if (absl::StrContains(word, "=")) return false;
  for (const auto& f : GlobalFlags()) {
    if ((word == "--" + f.name || (f.short_name != 0 && word == std::string("-") + f.short_name)) &&
        !f.value_name.empty()) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string BashCompletion(const Registry& registry) {
  std::map<std::string, std::set<std::string>> next;
  std::map<std::string, std::vector<std::string>> flags;
  for (const auto& c : registry.commands()) {
    std::string prefix;
    for (const auto& word : c.path) {
      next[prefix].insert(word);
      if (!prefix.empty()) prefix += ' ';
      prefix += word;
    }
    auto& f = flags[prefix];
    for (const auto& spec : c.flags) f.push_back("--" + spec.name);
    for (const auto& spec : GlobalFlags()) f.push_back("--" + spec.name);
  }
  std::string known = "|";
  for (const auto& [p, unused] : next) {
    for (const auto& w : next[p]) absl::StrAppend(&known, p, p.empty() ? "" : " ", w, "|");
  }
  std::string out =
      "# bash completion for outreachctl: source <(outreachctl completion bash)\n"
      "_outreachctl() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  local path=\"\" i w candidate\n";
  absl::StrAppend(&out, "  local known='", known, "'\n");
  out +=
      "  for ((i=1; i<COMP_CWORD; i++)); do\n"
      "    w=\"${COMP_WORDS[i]}\"\n"
      "    [[ \"$w\" == -* ]] && continue\n"
      "    if [[ -z \"$path\" ]]; then candidate=\"$w\"; else candidate=\"$path $w\"; fi\n"
      "    [[ \"$known\" == *\"|$candidate|\"* ]] && path=\"$candidate\"\n"
      "  done\n"
      "  case \"$prev\" in\n"
      "    -o|--output) COMPREPLY=( $(compgen -W \"table json yaml csv\" -- \"$cur\") ); return "
      ";;\n"
      "    -f|--file|--tls-ca-file|--tls-cert-file|--tls-key-file|--token-file|--config)\n"
      "      COMPREPLY=( $(compgen -f -- \"$cur\") ); return ;;\n"
      "  esac\n"
      "  local words=\"\"\n"
      "  case \"$path\" in\n";
  for (const auto& [prefix, words] : next) {
    absl::StrAppend(&out, "    \"", prefix, "\") words=\"", absl::StrJoin(words, " "), "\" ;;\n");
  }
  for (const auto& [path, f] : flags) {
    absl::StrAppend(&out, "    \"", path, "\") words=\"", absl::StrJoin(f, " "), "\" ;;\n");
  }
  out +=
      "  esac\n"
      "  COMPREPLY=( $(compgen -W \"$words\" -- \"$cur\") )\n"
      "}\n"
      "complete -o default -F _outreachctl outreachctl\n";
  return out;
}

namespace {

// The command named by words[*i…] (advancing *i past its words), or nullptr with `path` the
// words that matched a group.
const Command* FindCommand(const Registry& registry, const std::vector<std::string>& words,
                           size_t* i, std::vector<std::string>* path) {
  while (*i < words.size() && !absl::StartsWith(words[*i], "-")) {
    std::vector<std::string> candidate = *path;
    candidate.push_back(words[*i]);
    const bool prefix_of_some =
        std::any_of(registry.commands().begin(), registry.commands().end(),
                    [&](const Command& c) { return StartsWithPath(c.path, candidate); });
    if (!prefix_of_some) return nullptr;
    *path = std::move(candidate);
    ++*i;
    for (const auto& c : registry.commands()) {
      if (c.path == *path) return &c;
    }
  }
  return nullptr;
}

// No command matched: help, or the nearest command to what was typed.
int NoCommand(const Registry& registry, const std::vector<std::string>& words, size_t i,
              const std::vector<std::string>& path, bool help_flag, std::ostream& out,
              std::ostream& err) {
  if (path.empty() && (i >= words.size() || words[i] == "help")) {
    if (help_flag || (i < words.size() && words[i] == "help")) {
      out << TopHelp(registry);
      return kExitOk;
    }
    err << TopHelp(registry);
    return kExitUsage;
  }
  if (i >= words.size() || absl::StartsWith(words[i], "-")) {
    if (help_flag) {
      out << GroupHelp(registry, path);
      return kExitOk;
    }
    err << "outreachctl: "
        << (path.empty() ? "a command is missing" : PathText(path) + " needs a command") << "\n"
        << GroupHelp(registry, path);
    return kExitUsage;
  }
  std::vector<std::string> choices;
  for (const auto& c : registry.commands()) {
    if (StartsWithPath(c.path, path) && c.path.size() > path.size() &&
        std::find(choices.begin(), choices.end(), c.path[path.size()]) == choices.end()) {
      choices.push_back(c.path[path.size()]);
    }
  }
  std::vector<std::string> shown = path;
  shown.push_back(words[i]);
  err << "outreachctl: unknown command \"" << PathText(shown) << "\"";
  if (auto near = Nearest(words[i], choices)) {
    std::vector<std::string> fixed = path;
    fixed.push_back(*near);
    err << "; did you mean \"" << PathText(fixed) << "\"?";
  }
  err << "\n(outreachctl " << PathText(path) << (path.empty() ? "" : " ")
      << "--help lists the commands)\n";
  return kExitUsage;
}

int RunCommand(const Command& command, const std::vector<std::string>& rest, const EnvLookup& env,
               std::ostream& out, std::ostream& err, bool interactive) {
  std::vector<FlagSpec> specs = GlobalFlags();
  specs.insert(specs.end(), command.flags.begin(), command.flags.end());
  auto args = ParseArgs(rest, specs);
  if (!args.ok()) {
    err << "outreachctl " << PathText(command.path) << ": " << args.status().message()
        << "\n(outreachctl " << PathText(command.path) << " --help)\n";
    return kExitUsage;
  }
  if (args->Has("help")) {
    out << CommandHelp(command);
    return kExitOk;
  }
  auto settings = ResolveSettings(*args, env);
  if (!settings.ok()) {
    err << "outreachctl: " << settings.status().message() << "\n";
    return kExitUsage;
  }
  std::string output = settings->output;
  if (output.empty()) output = command.default_output.empty() ? "table" : command.default_output;
  auto format = ParseFormat(output);
  if (!format.ok()) {
    err << "outreachctl: " << format.status().message() << "\n";
    return kExitUsage;
  }
  if (command.needs_force && settings->force.empty()) {
    err << "outreachctl " << PathText(command.path)
        << ": no force given: use --force FORCE, OUTREACH_FORCE or `force = FORCE` in "
        << (settings->config_file.empty() ? "~/.config/outreach/outreachctl.conf"
                                          : settings->config_file)
        << "\n";
    return kExitUsage;
  }
  Connection connection(std::move(*settings));
  Context ctx;
  ctx.args = std::move(*args);
  ctx.connection = &connection;
  ctx.out = &out;
  ctx.err = &err;
  ctx.format = *format;
  ctx.width = ctx.format == Format::kTable ? TerminalWidth() : 0;
  ctx.interactive = interactive;
  const int code = command.run(ctx);
  out.flush();
  return code;
}

}  // namespace

int Run(const std::vector<std::string>& words, const EnvLookup& env, std::ostream& out,
        std::ostream& err, bool interactive) {
  const Registry& registry = Commands();
  // Leading global flags, then the command's words, then everything else.
  std::vector<std::string> rest;
  size_t i = 0;
  while (i < words.size() && absl::StartsWith(words[i], "-")) {
    rest.push_back(words[i]);
    if (TakesValue(words[i]) && i + 1 < words.size()) rest.push_back(words[++i]);
    ++i;
  }
  const bool help_flag = std::any_of(
      words.begin(), words.end(), [](const std::string& w) { return w == "--help" || w == "-h"; });
  std::vector<std::string> path;
  const Command* command = FindCommand(registry, words, &i, &path);
  if (command == nullptr) return NoCommand(registry, words, i, path, help_flag, out, err);
  rest.insert(rest.end(), words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
  return RunCommand(*command, rest, env, out, err, interactive);
}

int Main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  return Run(words, ProcessEnv(), std::cout, std::cerr, isatty(STDERR_FILENO) != 0);
}

}  // namespace outreach::ctl
