#pragma once

// The Stickiness dock: the cluster's stickiness ratio, a row per client with
// the instances it connected to over time (sticky misses and clients that
// moved highlighted, filterable), the selected client's full history with
// the reason of each move and its live sessions' Redis records, and a chart
// of the ratio and of moves per minute over the last five minutes. Owned by
// MainWindow.

#include <QHash>
#include <QTimer>
#include <QWidget>

class QChart;
class QComboBox;
class QLabel;
class QLineEdit;
class QLineSeries;
class QTableView;
class QValueAxis;

namespace sb {
struct ConnectionInfo;
}

namespace sb::console {

class OperatorSession;
class StickinessFilterProxy;

class StickinessPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StickinessPanel)
public:
    explicit StickinessPanel(OperatorSession &session, QWidget *parent = nullptr);
    ~StickinessPanel() override;

    enum class Show { All, StickyMisses, Moved, Offline };

    QTableView *view() const { return m_view; }
    // Selects the client (clearing filters that would hide it), reads its
    // history and sessions from Redis and shows them in the detail pane.
    void showClient(const QString &clientId);
    QString selectedClient() const;
    QString summaryText() const;
    QString detailText() const;
    void setShow(Show show);
    void setFilterText(const QString &text);
    // Redraws the chart now (the panel also does so once a second).
    void refreshChart();

private:
    void updateSummary();
    void updateDetail();
    void onSessionRecord(const QString &sessionId, bool found, const ConnectionInfo &record);

    OperatorSession &m_session;
    StickinessFilterProxy *m_proxy;
    QTableView *m_view;
    QLabel *m_summary;
    QComboBox *m_show;
    QLineEdit *m_filter;
    QLabel *m_detail;
    QChart *m_chart;
    QLineSeries *m_ratioLine;
    QLineSeries *m_movesLine;
    QValueAxis *m_x;
    QValueAxis *m_ratioAxis;
    QValueAxis *m_movesAxis;
    QTimer m_chartTimer;
    QString m_detailClient;
    QHash<QString, QString> m_sessionRecords; // session id -> text, for the client shown
};

} // namespace sb::console
