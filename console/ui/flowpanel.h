#pragma once

// A tab of the Message flow dock: the rows of one FlowModel as they pass,
// newest at the bottom (followed unless the user scrolls up), with pause, a
// text filter, clear and export of the rows shown as JSON Lines. What differs
// by the model's source comes from one table in flowpanel.cpp: the column
// widths, the words, and for the backplane envelopes the filters by origin
// and type and a search that jumps between matches. Owned by MainWindow.

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableView;

namespace sb::console {

class FlowModel;
class FlowFilterProxy;
struct FlowPanelStyle;

class FlowPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FlowPanel)
public:
    explicit FlowPanel(FlowModel &model, QWidget *parent = nullptr);
    ~FlowPanel() override;

    QTableView *view() const { return m_view; }
    // A line above the list (why nothing arrives, say); empty hides it.
    void setNotice(const QString &text);
    void setFilterText(const QString &text);
    // Shows only rows of this frame type (with the type filter; empty: all).
    void setTypeFilter(const QString &type);
    // Selects the next (or previous) row containing `text`; false when none does.
    bool search(const QString &text, bool forward = true);
    // Writes the rows the filters show; false (with `error`) when it cannot.
    bool exportTo(const QString &fileName, QString *error) const;
    QString countersText() const;

private:
    void exportInteractive();
    void updateCounters();
    void updateVocabulary();

    FlowModel &m_model;
    const FlowPanelStyle &m_style;
    FlowFilterProxy *m_proxy;
    QTableView *m_view;
    QLabel *m_notice;
    QPushButton *m_pause;
    QComboBox *m_origin = nullptr; // with the origin and type filters only
    QComboBox *m_type = nullptr;
    QLineEdit *m_filter;
    QLineEdit *m_search = nullptr; // with the search only
    QLabel *m_counters;
    bool m_follow = true;
};

} // namespace sb::console
