#include "guest/dirty_report.hpp"

#include "guest/output.hpp"

#include <algorithm>

namespace dvm::inline v0::detail {

std::string format_dirty_report(const dirty_report& report) {
  std::string out;
  for (const auto& p : report.problems) {
    out += "\n  " + (p.path.empty() || p.path == "." ? std::string() : p.path + ": ") + p.message;
  }
  for (const auto& repo : report.repositories) {
    out += "\n  repository " + repo.path + ": ";
    for (std::size_t i = 0; i < repo.reasons.size(); ++i) out += (i ? ", " : "") + repo.reasons[i];
  }
  if (report.loose_file_count > 0) {
    out += "\n  " + std::to_string(report.loose_file_count) + " file" +
           (report.loose_file_count == 1 ? "" : "s") + " outside any repository:";
    for (const auto& f : report.loose_files) out += " " + f;
    if (report.loose_file_count > report.loose_files.size()) out += " ...";
  }
  return out;
}

dirty_report read_dirty_report(const process_result& r, const std::string& nonce) {
  dirty_report report;
  const std::string done = "::dvm-" + nonce + "::done";
  auto lines = split_lines(r.out);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  bool finished = !lines.empty() && lines.back() == done;
  for (const auto& [key, value] : tab_fields(r.out)) {
    if (key == "repo") {
      std::size_t tab = value.find('\t');
      std::string path = value.substr(0, tab);
      std::string reason = tab == std::string::npos ? "unsaved work" : value.substr(tab + 1);
      auto it = std::find_if(report.repositories.begin(), report.repositories.end(),
                             [&](const dirty_repository& repo) { return repo.path == path; });
      if (it == report.repositories.end()) {
        report.repositories.push_back({path, {reason}});
      } else {
        it->reasons.push_back(reason);
      }
    } else if (key == "problem") {
      std::size_t t1 = value.find('\t');
      std::size_t t2 = t1 == std::string::npos ? t1 : value.find('\t', t1 + 1);
      dirty_problem p;
      p.kind = value.substr(0, t1);
      if (t1 != std::string::npos) p.path = value.substr(t1 + 1, t2 == std::string::npos ? t2 : t2 - t1 - 1);
      if (t2 != std::string::npos) p.message = value.substr(t2 + 1);
      if (p.message.empty()) p.message = p.kind;
      report.problems.push_back(std::move(p));
    } else if (key == "loose") {
      report.loose_files.push_back(value);
    } else if (key == "loose-count") {
      try {
        report.loose_file_count = static_cast<std::size_t>(std::stoull(value));
      } catch (const std::exception&) {
        report.loose_file_count = 1;  // unreadable count: still unsaved work
      }
    } else if (key == "incomplete") {
      report.incomplete = true;
      report.incomplete_reason = value;
    }
  }
  if (report.incomplete) return report;
  if (!finished) {
    report.incomplete = true;
    report.incomplete_reason = "the check did not run to its end (exit " + std::to_string(exit_status(r)) +
                               ", no completion line" +
                               (r.err.empty() ? std::string(")") : "): " + last_lines(r.err, 3));
  } else if (r.exit_code != 0 && r.exit_code != 1) {
    report.incomplete = true;
    report.incomplete_reason = "the check failed with status " + std::to_string(exit_status(r)) +
                               (r.err.empty() ? "" : ": " + last_lines(r.err, 3));
  } else if (r.exit_code == 1 && report.clean()) {
    report.incomplete = true;
    report.incomplete_reason = "the check reported unsaved work without details";
  } else if (r.exit_code == 0 && !report.clean()) {
    report.incomplete = true;
    report.incomplete_reason = "the check reported unsaved work but exited 0";
  }
  return report;
}

void merge_dirty_report(dirty_report& into, dirty_report other, const std::string& code_dir) {
  auto full = [&](const std::string& path) { return path == "." || path.empty() ? code_dir : code_dir + "/" + path; };
  for (auto& repo : other.repositories) {
    repo.path = full(repo.path);
    into.repositories.push_back(std::move(repo));
  }
  for (auto& p : other.problems) {
    p.path = full(p.path);
    into.problems.push_back(std::move(p));
  }
  for (auto& f : other.loose_files) {
    if (into.loose_files.size() < 5) into.loose_files.push_back(full(f));
  }
  into.loose_file_count += other.loose_file_count;
  if (other.incomplete && !into.incomplete) {
    into.incomplete = true;
    into.incomplete_reason = other.incomplete_reason + " (in " + code_dir + ")";
  }
}

}  // namespace dvm::v0::detail
