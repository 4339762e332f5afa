// Without pkgConfig: hiredis's .pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM refuses
// with a warning on every build (SWIFT-NOTES.md §1).
#include <hiredis/hiredis.h>
