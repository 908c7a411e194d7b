#pragma once

// A Qt 6 hash keeps its table when entries are removed. Tables that held one
// entry per connection (sessions, descriptors, subscribed channels, tokens)
// are thousands of allocations once they have grown to 10 000 entries; left
// in place after the connections went, they were scattered through the heap
// between the freed connections and kept glibc from handing that memory back
// (docs/benchmarks.md, "Memory once the clients have left").

namespace sb {

// Rebuilds `hash` at its current size once it is mostly empty (under an
// eighth of a table of at least 1 024). Each squeeze costs O(size) and the
// next one waits for the size to fall eightfold again.
template <typename Hash>
void squeezeIfSparse(Hash &hash)
{
    if (hash.capacity() >= 1024 && hash.size() < hash.capacity() / 8)
        hash.squeeze();
}

} // namespace sb
