#pragma once
// The engine file (.kiln): what `kiln build` writes and Session::from_file loads. Layout (little-endian):
//
//   header, 64 bytes
//     0  magic        8 bytes  "KILNENG\0"
//     8  u32 format version   (kFormatVersion; a reader refuses a newer one)
//    12  u32 header bytes     (64)
//    16  u16 kiln major, minor, patch, 0   (the kiln that built it; informational)
//    24  u32 ISA tier the engine was built for (kernels::IsaTier: 0 ref, 1 avx2, 2 avx512)
//    28  u32 flags            (none defined yet; must be 0)
//    32  u32 section count    (at most kMaxSections)
//    36  u32 reserved, 0
//    40  u64 file size in bytes (a copy cut short is told from a corrupt one)
//    48  u64 header checksum  (checksum64 of the header with this field zero, then the section table)
//    56  u64 reserved, 0
//   section table, 32 bytes per section, right after the header
//     u32 kind, u32 reserved 0, u64 offset, u64 size, u64 checksum64 of the section's bytes
//   sections, each at an offset that is a multiple of 64 (kSectionAlignment), in table order, not overlapping
//
// Each section has its own checksum so a later loader may check a large section lazily; the header checksum
// covers the table, so together they cover every byte that is read. Sections are aligned so a mapped engine's
// bytes can be used in place (a float or a SIMD vector at any 64-byte boundary is aligned).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/isa.h"

namespace kiln::engine {

inline constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'E', 'N', 'G', '\0'};
/// 2: sections 4 and 5 (packed weights in place). 3: section 6 (tactics). Engines of versions 1 and 2 (without
/// those sections) still load.
inline constexpr uint32_t kFormatVersion = 3;
inline constexpr size_t kHeaderBytes = 64;
inline constexpr size_t kTableEntryBytes = 32;
inline constexpr size_t kSectionAlignment = 64;
inline constexpr uint32_t kMaxSections = 64;

/// What a section holds. Numbers are part of the format: never reuse one.
enum class SectionKind : uint32_t {
  kProfiles = 1,      ///< optimization profiles (engine/profiles.h encoding)
  kBuildOptions = 2,  ///< how the engine was built: source model, level, passes disabled (build_options.h)
  kModel = 3,         ///< the optimized model as ONNX bytes (passes run, dims the profiles fix folded)
  /// The index of the packed weights (engine/packed_index.h): per prepared kernel's request, its key and where
  /// its bytes are in kPackedData; and the large initializers moved out of the model section. Optional (with
  /// kPackedData: both or neither); without it every weight is in the model section and is packed at load.
  kPackedWeights = 4,
  /// The blobs kPackedWeights lists, each 64-byte aligned, used in place. Its table checksum is 0 and not read:
  /// each blob carries its own in the index, checked before the first run that reads it.
  kPackedData = 5,
  /// The tactic `kiln build` chose per node that offered a choice, timed at the opt shape (engine/tactics.h).
  /// Optional: without it (or for a node it does not name) prepare's rules choose.
  kTactics = 6,
};

/// "profiles", "build options", "model", "packed weights", "packed data", "tactics" or "unknown".
const char* section_kind_name(SectionKind kind);

/// Whether `bytes` start with the engine magic (cheap: how from_file tells an engine from an ONNX file).
bool is_engine(std::span<const uint8_t> bytes);

struct Section {
  SectionKind kind;
  std::vector<uint8_t> bytes;
};

/// The fixed facts of an engine's header.
struct EngineHeader {
  uint32_t format_version = kFormatVersion;
  uint16_t kiln_version[3] = {0, 0, 0};
  kernels::IsaTier isa = kernels::IsaTier::kRef;
  uint64_t file_size = 0;
};

/// The whole engine file for `sections` (kiln's own version and `isa` in the header).
std::vector<uint8_t> write_engine(const std::vector<Section>& sections, kernels::IsaTier isa);

/// A verified engine: views into the bytes it was read from (which must outlive it).
struct EngineView {
  EngineHeader header;
  struct Entry {
    SectionKind kind;
    std::span<const uint8_t> bytes;
  };
  std::vector<Entry> sections;  ///< in table order
  /// The section of `kind`; throws Error(kInvalidModel) naming it when the engine has none.
  std::span<const uint8_t> section(SectionKind kind) const;
};

/// Reads and checks an engine: magic, format version, header size, flags, file size, section count, every
/// section inside the file, aligned, not overlapping the header, the table or each other, known kinds at most
/// once, the three required sections present, and (when `verify_checksums`) the header and section checksums.
/// Throws Error(kInvalidModel) (kUnsupported for a newer format version) with a message that says what is wrong
/// and that rebuilding the engine with `kiln build` is the fix.
EngineView read_engine(std::span<const uint8_t> bytes, bool verify_checksums = true);

/// "0.1.0", the kiln this binary is.
std::string kiln_version_string();

}  // namespace kiln::engine
