#pragma once

// A fixed-capacity ring buffer: appending past capacity drops the oldest.
// Used for chart series and flow rows. A plain value type.

#include <QList>

#include <algorithm>

namespace sb::console {

template<typename T>
class RingBuffer final
{
public:
    explicit RingBuffer(qsizetype capacity = 120)
        : m_capacity(std::max<qsizetype>(1, capacity))
    {
        m_data.reserve(m_capacity);
    }

    void append(const T &value)
    {
        if (m_data.size() < m_capacity) {
            m_data.append(value);
            return;
        }
        m_data[m_head] = value;
        m_head = (m_head + 1) % m_capacity;
    }

    qsizetype size() const { return m_data.size(); }
    qsizetype capacity() const { return m_capacity; }
    bool isEmpty() const { return m_data.isEmpty(); }
    // i = 0 is the oldest element.
    const T &at(qsizetype i) const { return m_data.at((m_head + i) % m_data.size()); }
    const T &last() const { return at(size() - 1); }
    void clear()
    {
        m_data.clear();
        m_head = 0;
    }
    QList<T> toList() const
    {
        QList<T> out;
        out.reserve(size());
        for (qsizetype i = 0; i < size(); ++i)
            out.append(at(i));
        return out;
    }

private:
    QList<T> m_data;
    qsizetype m_capacity;
    qsizetype m_head = 0; // index of the oldest element once full
};

} // namespace sb::console
