#include "tools/outreachctl/table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "absl/strings/numbers.h"

namespace outreach::ctl {

namespace {

constexpr size_t kGap = 2;           // spaces between columns
constexpr size_t kMinColumn = 6;     // a narrowed column keeps at least this many characters
constexpr size_t kComfortable = 24;  // … and this many while others are wider

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

std::string Clean(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

std::string Pad(const std::string& text, size_t width) {
  const size_t have = DisplayWidth(text);
  return have >= width ? text : text + std::string(width - have, ' ');
}

}  // namespace

size_t DisplayWidth(std::string_view text) {
  size_t n = 0;
  for (char c : text) {
    if (!IsContinuation(static_cast<unsigned char>(c))) ++n;
  }
  return n;
}

std::string Truncate(std::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  if (width == 0) return "";
  // Keep width-1 code points, then the ellipsis.
  size_t kept = 0;
  size_t end = 0;
  while (end < text.size()) {
    if (!IsContinuation(static_cast<unsigned char>(text[end]))) {
      if (kept == width - 1) break;
      ++kept;
    }
    ++end;
  }
  return std::string(text.substr(0, end)) + "\xE2\x80\xA6";
}

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows, size_t max_width) {
  const size_t columns = headers.size();
  if (columns == 0) return "";
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size() + 1);
  cells.emplace_back();
  for (const auto& h : headers) cells.back().push_back(Clean(h));
  for (const auto& row : rows) {
    cells.emplace_back();
    for (size_t c = 0; c < columns; ++c)
      cells.back().push_back(c < row.size() ? Clean(row[c]) : "");
  }
  std::vector<size_t> width(columns, 0);
  for (const auto& row : cells) {
    for (size_t c = 0; c < columns; ++c) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  auto total = [&] {
    return std::accumulate(width.begin(), width.end(), size_t{0}) + kGap * (columns - 1);
  };
  if (max_width > 0) {
    // Narrow the widest column one step at a time, first down to kComfortable (so wide
    // free-text columns give way while times, codes and ids stay whole), then further.
    for (size_t floor : {kComfortable, kMinColumn}) {
      while (total() > max_width) {
        auto widest = std::max_element(width.begin(), width.end());
        if (*widest <= floor) break;
        --*widest;
      }
    }
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < columns; ++c) {
      std::string cell = Truncate(row[c], width[c]);
      if (c + 1 < columns) {
        line += Pad(cell, width[c]);
        line.append(kGap, ' ');
      } else {
        line += cell;
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

size_t TerminalWidth() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once per command, before any call
  if (const char* env = std::getenv("COLUMNS"); env != nullptr) {
    int value = 0;
    if (absl::SimpleAtoi(env, &value) && value > 0) return static_cast<size_t>(value);
  }
  if (isatty(STDOUT_FILENO) == 0) return 0;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace outreach::ctl
