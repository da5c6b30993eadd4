#include "engine/engine_file.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "base/error.h"
#include "engine/byte_io.h"
#include "engine/checksum.h"

// The version comes from CMake's project() (CMakeLists.txt sets these for this file only).
#if !defined(KILN_VERSION_MAJOR) || !defined(KILN_VERSION_MINOR) || !defined(KILN_VERSION_PATCH)
#error "KILN_VERSION_MAJOR/MINOR/PATCH must be defined by the build"
#endif

namespace kiln::engine {

namespace {

constexpr size_t kChecksumOffset = 48;
constexpr const char* kRebuild = "rebuild it from the ONNX model with kiln build";

uint64_t header_checksum(std::span<const uint8_t> header_and_table) {
  std::vector<uint8_t> copy(header_and_table.begin(), header_and_table.end());
  std::memset(copy.data() + kChecksumOffset, 0, 8);
  return checksum64(copy);
}

bool known_kind(uint32_t kind) { return kind >= 1 && kind <= 6; }

// The packed data is checked blob by blob before first use (engine/packed_index.h), never whole at load.
bool checked_at_read(SectionKind kind) { return kind != SectionKind::kPackedData; }

}  // namespace

const char* section_kind_name(SectionKind kind) {
  switch (kind) {
    case SectionKind::kProfiles: return "profiles";
    case SectionKind::kBuildOptions: return "build options";
    case SectionKind::kModel: return "model";
    case SectionKind::kPackedWeights: return "packed weights";
    case SectionKind::kPackedData: return "packed data";
    case SectionKind::kTactics: return "tactics";
  }
  return "unknown";
}

bool is_engine(std::span<const uint8_t> bytes) {
  return bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0;
}

std::string kiln_version_string() {
  return fmt::format("{}.{}.{}", KILN_VERSION_MAJOR, KILN_VERSION_MINOR, KILN_VERSION_PATCH);
}

std::vector<uint8_t> write_engine(const std::vector<Section>& sections, kernels::IsaTier isa) {
  KILN_ASSERT(sections.size() <= kMaxSections);
  // Offsets first: the table holds them and the header holds the file size.
  std::vector<uint64_t> offsets;
  uint64_t at = kHeaderBytes + kTableEntryBytes * sections.size();
  for (const Section& s : sections) {
    at = (at + kSectionAlignment - 1) / kSectionAlignment * kSectionAlignment;
    offsets.push_back(at);
    at += s.bytes.size();
  }
  const uint64_t file_size = at;

  ByteWriter w;
  w.raw(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kMagic), sizeof(kMagic)));
  w.u32(kFormatVersion);
  w.u32(kHeaderBytes);
  w.u16(KILN_VERSION_MAJOR);
  w.u16(KILN_VERSION_MINOR);
  w.u16(KILN_VERSION_PATCH);
  w.u16(0);
  w.u32(static_cast<uint32_t>(isa));
  w.u32(0);  // flags
  w.u32(static_cast<uint32_t>(sections.size()));
  w.u32(0);
  w.u64(file_size);
  w.u64(0);  // header checksum, filled below
  w.u64(0);
  KILN_ASSERT(w.bytes().size() == kHeaderBytes);
  for (size_t i = 0; i < sections.size(); ++i) {
    w.u32(static_cast<uint32_t>(sections[i].kind));
    w.u32(0);
    w.u64(offsets[i]);
    w.u64(sections[i].bytes.size());
    w.u64(checked_at_read(sections[i].kind) ? checksum64(sections[i].bytes) : 0);
  }
  uint64_t sum = header_checksum(w.bytes());
  for (int i = 0; i < 8; ++i) w.bytes()[kChecksumOffset + i] = static_cast<uint8_t>(sum >> (8 * i));
  for (const Section& s : sections) {
    w.pad_to(kSectionAlignment);
    w.raw(s.bytes);
  }
  KILN_ASSERT(w.bytes().size() == file_size);
  return std::move(w.bytes());
}

std::span<const uint8_t> EngineView::section(SectionKind kind) const {
  for (const Entry& e : sections)
    if (e.kind == kind) return e.bytes;
  fail(ErrorCode::kInvalidModel, "the engine has no {} section; {}", section_kind_name(kind), kRebuild);
}

EngineView read_engine(std::span<const uint8_t> bytes, bool verify_checksums) {
  if (!is_engine(bytes)) fail(ErrorCode::kInvalidModel, "not a kiln engine: the file does not start with 'KILNENG'");
  if (bytes.size() < kHeaderBytes)
    fail(ErrorCode::kInvalidModel, "the engine is truncated: {} bytes, shorter than its {}-byte header; {}",
         bytes.size(), kHeaderBytes, kRebuild);
  ByteReader r(bytes.subspan(sizeof(kMagic), kHeaderBytes - sizeof(kMagic)), "the engine header");
  EngineView view;
  EngineHeader& h = view.header;
  h.format_version = r.u32("the format version");
  if (h.format_version == 0 || h.format_version > kFormatVersion)
    fail(h.format_version > kFormatVersion ? ErrorCode::kUnsupported : ErrorCode::kInvalidModel,
         "the engine has format version {}; this kiln ({}) reads version {}: {}", h.format_version,
         kiln_version_string(), kFormatVersion,
         h.format_version > kFormatVersion ? "use the kiln that built it, or rebuild the engine with this one"
                                           : kRebuild);
  if (uint32_t size = r.u32("the header size"); size != kHeaderBytes)
    fail(ErrorCode::kInvalidModel, "the engine header says it is {} bytes; version {} headers are {}; {}", size,
         kFormatVersion, kHeaderBytes, kRebuild);
  for (uint16_t& v : h.kiln_version) v = r.u16("the kiln version");
  r.u16("the kiln version");
  uint32_t isa = r.u32("the ISA tier");
  if (isa > static_cast<uint32_t>(kernels::IsaTier::kAvx512))
    fail(ErrorCode::kInvalidModel, "the engine names ISA tier {}, which does not exist (0 ref, 1 avx2, 2 avx512); {}",
         isa, kRebuild);
  h.isa = static_cast<kernels::IsaTier>(isa);
  if (uint32_t flags = r.u32("the flags"); flags != 0)
    fail(ErrorCode::kInvalidModel, "the engine sets flags {:#x}, which format version {} does not define; {}", flags,
         kFormatVersion, kRebuild);
  uint32_t count = r.u32("the section count");
  if (count > kMaxSections)
    fail(ErrorCode::kInvalidModel, "the engine claims {} sections; at most {} are allowed; {}", count, kMaxSections,
         kRebuild);
  r.u32("reserved");
  h.file_size = r.u64("the file size");
  if (h.file_size != bytes.size())
    fail(ErrorCode::kInvalidModel, "the engine is {} bytes but its header says {}: {}; {}", bytes.size(), h.file_size,
         bytes.size() < h.file_size ? "it is truncated (an interrupted copy or download?)" : "it has trailing bytes",
         kRebuild);
  const uint64_t stored_sum = r.u64("the header checksum");
  const size_t table_end = kHeaderBytes + kTableEntryBytes * count;
  if (table_end > bytes.size())
    fail(ErrorCode::kInvalidModel, "the engine is truncated inside its section table ({} bytes, the table ends at {}); {}",
         bytes.size(), table_end, kRebuild);
  if (verify_checksums && header_checksum(bytes.first(table_end)) != stored_sum)
    fail(ErrorCode::kInvalidModel, "the engine's header checksum does not match: the file is corrupt; {}", kRebuild);

  ByteReader t(bytes.subspan(kHeaderBytes, table_end - kHeaderBytes), "the engine's section table");
  struct Placed { uint64_t offset, size; uint32_t kind; };
  std::vector<Placed> placed;
  std::vector<uint64_t> sums;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t kind = t.u32("a section kind");
    t.u32("reserved");
    uint64_t offset = t.u64("a section offset"), size = t.u64("a section size");
    sums.push_back(t.u64("a section checksum"));
    const char* name = section_kind_name(static_cast<SectionKind>(kind));
    if (!known_kind(kind))
      fail(ErrorCode::kInvalidModel, "section {} of the engine has kind {}, which format version {} does not define; {}",
           i, kind, kFormatVersion, kRebuild);
    if (offset % kSectionAlignment != 0 || offset < table_end || offset > bytes.size() || size > bytes.size() - offset)
      fail(ErrorCode::kInvalidModel,
           "the engine's {} section (bytes {}..+{}) is not a {}-byte-aligned range after the section table (ends at "
           "{}) and inside the file ({} bytes); {}", name, offset, size, kSectionAlignment, table_end, bytes.size(),
           kRebuild);
    for (const Placed& p : placed) {
      if (p.kind == kind)
        fail(ErrorCode::kInvalidModel, "the engine has two {} sections; {}", name, kRebuild);
      if (offset < p.offset + p.size && p.offset < offset + size)
        fail(ErrorCode::kInvalidModel, "the engine's {} and {} sections overlap; {}", name,
             section_kind_name(static_cast<SectionKind>(p.kind)), kRebuild);
    }
    placed.push_back({offset, size, kind});
  }
  for (size_t i = 0; i < placed.size(); ++i) {
    auto span = bytes.subspan(placed[i].offset, placed[i].size);
    SectionKind kind = static_cast<SectionKind>(placed[i].kind);
    if (verify_checksums && checked_at_read(kind) && checksum64(span) != sums[i])
      fail(ErrorCode::kInvalidModel, "the engine's {} section fails its checksum: the file is corrupt; {}",
           section_kind_name(kind), kRebuild);
    view.sections.push_back({kind, span});
  }
  for (SectionKind required : {SectionKind::kProfiles, SectionKind::kBuildOptions, SectionKind::kModel}) view.section(required);
  auto has = [&](SectionKind k) {
    return std::any_of(view.sections.begin(), view.sections.end(), [k](const EngineView::Entry& e) { return e.kind == k; });
  };
  if (has(SectionKind::kPackedWeights) != has(SectionKind::kPackedData))
    fail(ErrorCode::kInvalidModel, "the engine has a {} section without its {} section; {}",
         has(SectionKind::kPackedWeights) ? "packed weights" : "packed data",
         has(SectionKind::kPackedWeights) ? "packed data" : "packed weights", kRebuild);
  return view;
}

}  // namespace kiln::engine
