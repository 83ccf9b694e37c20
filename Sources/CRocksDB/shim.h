// RocksDB's C API from Debian's librocksdb-dev (linked as the shared librocksdb).
#include <rocksdb/c.h>
