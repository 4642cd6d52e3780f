#pragma once

// Plain-text tables for a terminal: a header row and left-aligned columns two spaces apart.
// When the natural width exceeds `max_width`, the widest columns are narrowed (never below a
// few characters) and their cells cut with "…"; widths count UTF-8 code points, so "Ashbourne
// Café" is as wide as it looks.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace outreach::ctl {

// Code points in `text` (a UTF-8 string).
size_t DisplayWidth(std::string_view text);
// `text` cut to at most `width` code points, the last one "…" when it was cut.
std::string Truncate(std::string_view text, size_t width);

// `max_width` 0 means no limit. Line breaks and tabs in cells are shown as spaces.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows, size_t max_width);

// The width of the terminal on stdout, or 0 when stdout is not a terminal (piped output is
// never cut) unless $COLUMNS says otherwise.
size_t TerminalWidth();

}  // namespace outreach::ctl
