// The admin's pickers (a user's groups and permissions) ask for these phrases, which Django's zh_Hans
// catalogue does not have yet: without them the page shows "Choose 组 by selecting them…" in
// English. jsi18n, loaded after this, merges its own phrases into the same catalogue.
(function () {
  var django = globalThis.django || (globalThis.django = {});
  var catalog = django.catalog || (django.catalog = {});
  var phrases = {
    "Available %s": "可选%s",
    "Chosen %s": "已选%s",
    "Choose all %s": "全选%s",
    "Remove all %s": "全部移除%s",
    "Choose selected %s": "选择所选%s",
    "Remove selected %s": "移除所选%s",
    "Choose %s by selecting them and then select the \"Choose\" arrow button.": "选中%s后点击“选择”箭头。",
    "Remove %s by selecting them and then select the \"Remove\" arrow button.": "选中%s后点击“移除”箭头。",
    "Type into this box to filter down the list of available %s.": "在此输入以筛选可选的%s。",
    "Type into this box to filter down the list of selected %s.": "在此输入以筛选已选的%s。",
    "(click to clear)": "（点击清除）",
  };
  for (var key in phrases) if (!(key in catalog)) catalog[key] = phrases[key];
})();
