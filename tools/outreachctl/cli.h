#pragma once

// The command table and what a command runs with. Each command is a path of words
// ("workshops list", "training import", "export officers-trained"), its flags and a function;
// the services' files (workshops_commands.cc, …) add theirs to the table, and Main dispatches,
// prints help, suggests the nearest command for a typo and writes the bash completion.
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "tools/outreachctl/args.h"
#include "tools/outreachctl/output.h"
#include "tools/outreachctl/rpc.h"
#include "tools/outreachctl/settings.h"

namespace outreach::ctl {

// A progress line on stderr, only when stderr is a terminal: rewritten in place, erased at
// the end, so piped or redirected output never carries it.
class Progress {
 public:
  Progress(std::ostream& err, bool enabled) : err_(err), enabled_(enabled) {}
  ~Progress() { Done(); }
  void Update(const std::string& text);
  void Done();

 private:
  std::ostream& err_;
  bool enabled_;
  bool shown_ = false;
};

struct Context {
  ParsedArgs args;
  Connection* connection = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  Format format = Format::kTable;
  size_t width = 0;          // table width limit, 0 = none
  bool interactive = false;  // stderr is a terminal: progress lines

  const Settings& settings() const { return connection->settings(); }
  // "forces/<force>"; the dispatcher guarantees a force for commands that need one.
  std::string ForceParent() const { return "forces/" + settings().force; }

  // Prints the failure of a call (see rpc.h) and returns its exit code.
  int Fail(const std::string& what, const google::protobuf::MethodDescriptor* method,
           const Outcome& outcome) const;
  // Prints a usage problem and returns kExitUsage.
  int Usage(const std::string& message) const;
  // Prints a problem found locally (not from a server) and returns `code`.
  int Problem(const std::string& message, int code) const;
};

struct Command {
  std::vector<std::string> path;  // e.g. {"workshops", "list"}
  std::string arguments;          // e.g. "NAME" (help text)
  std::string summary;            // one line
  std::string description;        // more help, may be empty
  std::vector<FlagSpec> flags;    // besides GlobalFlags()
  bool needs_force = true;
  // When not empty, -o defaults to this instead of "table" (exports default to csv).
  std::string default_output;
  std::function<int(Context&)> run;
};

class Registry {
 public:
  void Add(Command command) { commands_.push_back(std::move(command)); }
  const std::vector<Command>& commands() const { return commands_; }

 private:
  std::vector<Command> commands_;
};

// The whole table.
const Registry& Commands();
void RegisterWorkshopsCommands(Registry& registry);
void RegisterTrainingCommands(Registry& registry);
void RegisterCampaignsCommands(Registry& registry);
void RegisterMetricsCommands(Registry& registry);
void RegisterExportCommands(Registry& registry);

// The bash completion script for `registry`.
std::string BashCompletion(const Registry& registry);

// Runs one command line (argv without the program name). `env` reads the environment;
// `interactive` says whether stderr is a terminal.
int Run(const std::vector<std::string>& words, const EnvLookup& env, std::ostream& out,
        std::ostream& err, bool interactive);

// main()
int Main(int argc, char** argv);

}  // namespace outreach::ctl
