#pragma once

// The "Backplane" tab of the Message flow dock: every envelope the Redis
// monitor saw (sampled and bounded by BackplaneFlowModel), newest at the
// bottom and followed unless the user scrolls up; pause, filters by origin
// and type plus free text, a search that jumps between matches, clear, and
// export of the rows shown as JSON Lines. Owned by MainWindow.

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableView;

namespace sb::console {

class BackplaneFlowModel;
class EnvelopeFilterProxy;

class BackplaneFlowPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(BackplaneFlowPanel)
public:
    explicit BackplaneFlowPanel(BackplaneFlowModel &model, QWidget *parent = nullptr);
    ~BackplaneFlowPanel() override;

    QTableView *view() const { return m_view; }
    // A line above the list (why nothing arrives, say); empty hides it.
    void setNotice(const QString &text);
    void setFilterText(const QString &text);
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

    BackplaneFlowModel &m_model;
    EnvelopeFilterProxy *m_proxy;
    QTableView *m_view;
    QLabel *m_notice;
    QPushButton *m_pause;
    QComboBox *m_origin;
    QComboBox *m_type;
    QLineEdit *m_filter;
    QLineEdit *m_search;
    QLabel *m_counters;
    bool m_follow = true;
};

} // namespace sb::console
