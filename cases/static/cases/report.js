// "获取我的位置": the browser's position (WGS-84) into the longitude / latitude fields.
(function () {
  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  if (!button) return;
  button.addEventListener("click", function () {
    if (!navigator.geolocation) {
      status.textContent = "此浏览器不支持定位，请手工填写经纬度。";
      return;
    }
    status.textContent = "正在定位…";
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        document.getElementById("lon").value = pos.coords.longitude.toFixed(6);
        document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
        var sys = document.querySelector("select[name=coordsys]");
        if (sys) sys.value = "wgs84";
        status.textContent = "已定位（精度约 " + Math.round(pos.coords.accuracy) + " 米）。";
      },
      function (err) {
        status.textContent = "定位失败（" + err.message + "），请手工填写经纬度。";
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
